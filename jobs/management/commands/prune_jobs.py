from django.core.management.base import BaseCommand
from tqdm import tqdm

from jobs import services
from jobs.models import TERMINAL_STATUSES, Job


class Command(BaseCommand):
    help = "Deletes finished jobs older than the retention window (JOBS_RETENTION_DAYS), in batches."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=None)
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *, older_than_days, batch_size, **options):
        from datetime import timedelta

        from django.conf import settings
        from django.utils import timezone

        days = settings.JOBS["RETENTION_DAYS"] if older_than_days is None else older_than_days
        cutoff = timezone.now() - timedelta(days=days)
        total = Job.objects.filter(status__in=TERMINAL_STATUSES, finished_at__lt=cutoff).count()
        with tqdm(total=total, unit="job", disable=total == 0) as bar:
            last = [0]

            def advance(done):
                bar.update(done - last[0])
                last[0] = done

            deleted = services.jobs_prune(older_than_days=days, batch_size=batch_size, on_batch=advance)
        self.stdout.write(f"Deleted {deleted} job(s) finished more than {days} day(s) ago.")
