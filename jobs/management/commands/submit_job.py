import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from jobs import services
from jobs.errors import ApplicationError


class Command(BaseCommand):
    help = "Submits a job: submit_job ACTOR --args '[1, 2]' --kwargs '{\"x\": 1}' [--queue Q --priority N --eta ISO]"

    def add_arguments(self, parser):
        parser.add_argument("actor")
        parser.add_argument("--args", dest="json_args", default="[]", help="JSON array")
        parser.add_argument("--kwargs", dest="json_kwargs", default="{}", help="JSON object")
        parser.add_argument("--queue")
        parser.add_argument("--priority", type=int, default=0)
        parser.add_argument("--eta", help="ISO 8601 time with a zone, e.g. 2026-01-01T12:00:00Z")
        parser.add_argument("--idempotency-key")

    def handle(self, *, actor, json_args, json_kwargs, queue, priority, eta, idempotency_key, **options):
        try:
            args_value, kwargs_value = json.loads(json_args), json.loads(json_kwargs)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--args/--kwargs must be JSON: {exc}") from None
        try:
            eta_value = parse_datetime(eta) if eta else None
        except ValueError:  # well formed, but not a date (month 13)
            eta_value = None
        if eta and eta_value is None:
            raise CommandError(f"--eta {eta!r} is not an ISO 8601 time.")
        try:
            # Internal actors are allowed here: whoever runs manage.py operates the platform.
            # job_submit validates the actor, the payload, the call and the priority.
            submitted = services.job_submit(
                actor_name=actor,
                args=args_value,
                kwargs=kwargs_value,
                queue=queue,
                priority=priority,
                eta=eta_value,
                idempotency_key=idempotency_key,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        verb = "Submitted" if submitted.created else "Idempotency key matched existing"
        self.stdout.write(f"{verb} job {submitted.job.id} ({submitted.job.status})")
