"""Alert tests start from no rule (the default rules are the migration's, tested on their own)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.alerts import delivery
from jobs.alerts.models import AlertNotification, AlertRule
from jobs.models import Job


@pytest.fixture
def no_rules(db):
    AlertRule.objects.all().delete()


@pytest.fixture
def mail(settings):
    """Django's locmem backend: sent messages land in ``django.core.mail.outbox``."""
    from django.core import mail as django_mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_mail.outbox = []
    return django_mail


def run_deliveries() -> list:
    """Run every delivery job the evaluations submitted, as a worker would (each job's own args)."""
    results = []
    for job in Job.objects.filter(actor_name="alerts.deliver").order_by("created_at", "id"):
        results.append(delivery.notification_deliver(notification_id=job.args[0]))
    return results


class Webhook:
    """A local HTTP server that counts the JSON POSTs it receives (and answers ``status``)."""

    def __init__(self):
        self.received: list[dict] = []
        self.keys: list[str] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(json.loads(body))
                outer.keys.append(self.headers.get("Idempotency-Key"))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    server = Webhook()
    yield server
    server.close()


def notifications(**filters):
    return list(AlertNotification.objects.filter(**filters).values_list("change", "channel", "status"))
