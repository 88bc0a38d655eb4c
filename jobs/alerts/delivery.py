"""Sending one notification: by Django's mail backend or as a JSON POST to a webhook.

At most one message per notification row: a delivery first claims its row (pending or failed →
sending, a compare-and-set), and only the claimant sends. A duplicate delivery job finds the row
claimed or sent and sends nothing; a delivery whose process died while sending leaves the row
"sending" and is not sent again (a message may be lost then, never doubled). A failure that
the channel reports marks the row failed and raises, so the engine retries the job; each retry
carries the same Idempotency-Key (the notification id) for receivers that may have seen it.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from jobs.alerts.models import AlertNotification, Channel, DeliveryStatus
from jobs.errors import PermanentError

logger = logging.getLogger(__name__)

D = DeliveryStatus
USER_AGENT = "job-platform-alerts/1"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: the POST is not replayed elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def notification_deliver(*, notification_id) -> str:
    """Send a notification once; returns its status afterwards ("sent", or why nothing was sent).

    Raises PermanentError when the channel refuses for good (a 4xx other than 408/429), and the
    channel's error otherwise (retried by the engine).
    """
    claimed = AlertNotification.objects.filter(pk=notification_id, status__in=(D.PENDING, D.FAILED)).update(
        status=D.SENDING, attempts=F("attempts") + 1
    )
    notification = AlertNotification.objects.filter(pk=notification_id).first()
    if notification is None:
        return "missing"
    if not claimed:
        return f"not sent: already {notification.status}"
    try:
        if notification.channel == Channel.EMAIL:
            _send_email(notification)
        else:
            _post_webhook(notification)
    except PermanentError as exc:
        _mark(notification, D.GAVE_UP, error=str(exc))
        raise
    except Exception as exc:
        _mark(notification, D.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    _mark(notification, D.SENT, sent_at=timezone.now())
    return D.SENT


def _mark(notification: AlertNotification, status: str, *, error: str = "", sent_at=None) -> None:
    AlertNotification.objects.filter(pk=notification.pk, status=D.SENDING).update(
        status=status, error=error[:2000], sent_at=sent_at
    )


def email_subject_and_body(payload: dict) -> tuple[str, str]:
    alert, rule = payload["alert"], payload["rule"]
    change = payload["event"].removeprefix("alert.")
    subject = f"[alert {change}] {alert['summary']}"[:250]
    lines = [
        f"Alert {change}: {alert['summary']}",
        "",
        f"Rule: {rule['name']} ({rule['kind']})",
        f"Subject: {alert['subject']}",
        f"Opened at: {alert['opened_at']}",
    ]
    if alert["resolved_at"]:
        lines.append(f"Resolved at: {alert['resolved_at']}")
    lines += ["", "Details:", json.dumps(alert["details"], indent=2, sort_keys=True)]
    if alert.get("url"):
        lines += ["", f"Alerts page: {alert['url']}"]
    return subject, "\n".join(lines) + "\n"


def _send_email(notification: AlertNotification) -> None:
    subject, body = email_subject_and_body(notification.payload)
    send_mail(subject, body, from_email=None, recipient_list=list(notification.target), fail_silently=False)


def _post_webhook(notification: AlertNotification) -> None:
    request = urllib.request.Request(
        str(notification.target),
        data=json.dumps(notification.payload).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": str(notification.pk),
        },
    )
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=settings.ALERTS["WEBHOOK_TIMEOUT"]) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        if exc.code < 500 and exc.code not in (408, 429):
            raise PermanentError(f"the webhook answered {exc.code} {exc.reason}") from None
        raise
