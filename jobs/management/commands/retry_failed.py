from django.core.management.base import BaseCommand

from jobs import selectors, services
from jobs.models import JobStatus


class Command(BaseCommand):
    help = "Retries failed (dead) jobs, optionally of one actor or queue."

    def add_arguments(self, parser):
        parser.add_argument("--actor")
        parser.add_argument("--queue")

    def handle(self, *, actor, queue, **options):
        qs = selectors.job_list(status=[JobStatus.FAILED], actor=actor, queue=queue)
        self.stdout.write(f"Retried {services.jobs_retry_bulk(qs)} failed job(s).")
