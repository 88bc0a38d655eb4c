import json

from django.core.management.base import BaseCommand

from jobs import selectors


class Command(BaseCommand):
    help = "Prints job counts by status and queue, throughput and wait/run percentiles."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--window-minutes", type=int, default=60)

    def handle(self, *, json: bool, window_minutes: int, **options):
        stats = selectors.job_stats(window_minutes=window_minutes)
        if json:
            self.stdout.write(_dumps(stats))
            return
        self.stdout.write("Jobs by status:")
        for status, count in stats["by_status"].items():
            self.stdout.write(f"  {status:<10} {count:>10}")
        self.stdout.write("Jobs by queue:")
        for queue, counts in sorted(stats["by_queue"].items()):
            self.stdout.write(f"  {queue:<12} " + ", ".join(f"{s}={n}" for s, n in sorted(counts.items())))
        finished = sum(m["succeeded"] + m["failed"] for m in stats["throughput_per_minute"])
        self.stdout.write(f"Finished in the last {window_minutes} min: {finished}")
        self.stdout.write(f"Wait seconds p50/p95: {stats['wait_seconds']['p50']} / {stats['wait_seconds']['p95']}")
        self.stdout.write(f"Run seconds  p50/p95: {stats['run_seconds']['p50']} / {stats['run_seconds']['p95']}")


def _dumps(value) -> str:
    return json.dumps(value, indent=2, default=str)
