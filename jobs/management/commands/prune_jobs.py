from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.db.models.functions import Now
from tqdm import tqdm

from jobs import retention, services
from jobs.models import Job


class Command(BaseCommand):
    help = (
        "Deletes finished jobs past their state's retention (JOBS_RETENTION) and clears results past "
        "JOBS_RESULT_TTL, in batches."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days", type=int, default=None, help="Overrides JOBS_RETENTION for every state."
        )
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *, older_than_days, batch_size, **options):
        keep = retention.policy().rows
        if older_than_days is not None:
            keep = {status: timedelta(days=older_than_days) for status in keep}
        expired = Q()
        for status, duration in keep.items():
            expired |= Q(status=status, finished_at__lt=Now() - duration)
        total = Job.objects.filter(expired).count()
        with tqdm(total=total, unit="job", disable=total == 0) as bar:
            last = [0]

            def advance(done):
                bar.update(done - last[0])
                last[0] = done

            deleted = services.jobs_prune(older_than_days=older_than_days, batch_size=batch_size, on_batch=advance)
        kept = ", ".join(f"{status} {duration}" for status, duration in keep.items())
        self.stdout.write(f"Deleted {deleted} finished job(s) past their retention ({kept}).")
