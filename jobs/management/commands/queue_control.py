from django.core.management.base import BaseCommand, CommandError

from jobs.controls import selectors, services
from jobs.errors import ApplicationError

LIMIT_OPTIONS = {
    "concurrency": "max_concurrency",
    "rate": "rate_limit",
    "period": "rate_period",
    "window": "ready_window",
}


def _value(text: str, *, as_float: bool = False):
    if text.lower() in ("none", "off", "-"):
        return None
    try:
        return float(text) if as_float else int(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a number (or 'none' to remove the limit).") from None


class Command(BaseCommand):
    help = (
        "Queue and actor controls (audited as the system): "
        "queue_control show | pause QUEUE | resume QUEUE | "
        "limit QUEUE [--concurrency N] [--rate N] [--period S] [--window N] | "
        "actor-limit ACTOR [--concurrency N] [--rate N] [--period S]; 'none' removes a limit."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["show", "pause", "resume", "limit", "actor-limit"])
        parser.add_argument("name", nargs="?", help="The queue (or actor, for actor-limit).")
        for option in LIMIT_OPTIONS:
            parser.add_argument(f"--{option}")

    def handle(self, *, action, name, **options):
        if action == "show":
            return self._show()
        if not name:
            raise CommandError(f"{action} needs a queue or actor name.")
        changes = {
            field: _value(options[option], as_float=option == "period")
            for option, field in LIMIT_OPTIONS.items()
            if options.get(option) is not None
        }
        try:
            if action == "pause":
                services.queue_pause(queue_name=name)
            elif action == "resume":
                services.queue_resume(queue_name=name)
            elif action == "limit":
                if not changes:
                    raise CommandError("limit needs --concurrency, --rate, --period or --window.")
                services.queue_set_limits(queue_name=name, **changes)
            else:
                if "ready_window" in changes:
                    raise CommandError("--window applies to queues only.")
                if not changes:
                    raise CommandError("actor-limit needs --concurrency, --rate or --period.")
                services.actor_set_limits(actor_name=name, **changes)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{action} {name}: done")
        self._show()

    def _show(self):
        for row in selectors.queue_control_list():
            self.stdout.write(
                f"queue {row['queue']}: {'paused' if row['paused'] else 'active'}, "
                f"concurrency {row['max_concurrency'] or '-'}, "
                f"rate {row['rate_limit'] or '-'}/{row['rate_period']:g} s, "
                f"window {row['ready_window'] or '-'}, running {row['running']}, waiting {row['waiting']}"
            )
        for row in selectors.actor_control_list():
            if row["max_concurrency"] or row["rate_limit"]:
                self.stdout.write(
                    f"actor {row['actor']}: concurrency {row['max_concurrency'] or '-'}, "
                    f"rate {row['rate_limit'] or '-'}/{row['rate_period']:g} s"
                )
