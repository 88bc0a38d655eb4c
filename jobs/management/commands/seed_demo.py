"""Demo data so that a new user sees the platform at work at once (other apps extend it)."""

from django.core.management.base import BaseCommand

from jobs import services
from jobs.models import Job


class Command(BaseCommand):
    help = "Loads demo data: a few jobs of each kind (skipped when jobs exist already)."

    def handle(self, **options):
        from reports.services import seed_demo_data

        self.stdout.write(f"Demo data: store polls: {seed_demo_data()}")
        from monitoring import demo as monitoring_demo

        self.stdout.write(f"Demo data: monitoring: {monitoring_demo.seed()}")
        if Job.objects.exists():
            self.stdout.write("Demo data: jobs exist already, nothing added.")
            return
        services.submit("echo", "hello", greeting="world", idempotency_key="demo-echo")
        services.submit("countdown", 20, idempotency_key="demo-countdown")
        services.job_submit_many(actor_name="noop", calls=[([], {}) for _ in range(20)])
        # Retries to watch: one job that succeeds on its third attempt, one that ends in the dead letters.
        services.submit("demo.flaky", failures=2, idempotency_key="demo-flaky")
        services.submit("demo.always_fails", idempotency_key="demo-always-fails")
        self.stdout.write("Demo data: submitted 24 demo jobs (echo, countdown, noop, demo.flaky, demo.always_fails).")
