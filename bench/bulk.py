#!/usr/bin/env python
"""Bulk actions over every page of a filter: time per batch of 500 and in all, for retry, cancel, delete.

Creates ``--jobs`` failed jobs on a queue of their own in the database of DATABASE_URL (use one of
your own), then runs the bulk job's body (``jobs_bulk_apply``) in this process for retry (failed →
pending, published to Redis), cancel (→ cancelled) and delete, and prints the figures. Removes its
jobs and its queue's Redis keys at the end.

    DATABASE_URL=postgres://…/mine REDIS_URL=redis://…/N .venv/bin/python bench/bulk.py [--jobs 10000]
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()

    import django

    django.setup()
    import dramatiq
    from django.utils import timezone

    from jobs.bulk.services import jobs_bulk_apply
    from jobs.models import Job, JobStatus

    queue = f"bench-bulk-{uuid.uuid4().hex[:8]}"
    now = timezone.now()
    Job.objects.bulk_create(
        (
            Job(
                actor_name="echo",
                queue_name=queue,
                status=JobStatus.FAILED,
                attempts=4,
                max_attempts=4,
                finished_at=now,
            )
            for _ in range(args.jobs)
        ),
        batch_size=2000,
    )
    print(f"{args.jobs} failed jobs on queue {queue} ({Job.objects.count()} jobs in the table)")
    try:
        for action in ("retry", "cancel", "delete"):
            marks = [time.perf_counter()]
            started = marks[0]
            result = jobs_bulk_apply(
                action=action,
                filters={"queue": queue},
                on_batch=lambda *_, marks=marks: marks.append(time.perf_counter()),
            )
            total = time.perf_counter() - started
            batches = [b - a for a, b in zip(marks, marks[1:], strict=False)]
            print(
                f"{action:7s} {result['changed']:>7} changed in {total:6.2f} s "
                f"({result['changed'] / total:7.0f} jobs/s); per batch of 500: "
                f"median {statistics.median(batches) * 1000:.0f} ms, max {max(batches) * 1000:.0f} ms"
            )
    finally:
        Job.objects.filter(queue_name=queue).delete()
        client = dramatiq.get_broker().client
        for key in client.scan_iter(match=f"*{queue}*", count=1000):
            client.delete(key)


if __name__ == "__main__":
    main()
