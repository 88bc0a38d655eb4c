"""The writers of alerts: evaluating rules (open, keep, resolve) and editing rules.

Each rule is evaluated in its own transaction holding its row lock (``skip_locked``: a second
evaluation at the same moment leaves a rule being evaluated to the first). The partial unique
constraint on open alerts backs that up where the lock is not available (SQLite) or was bypassed.
A change of an alert and its notification rows commit together; the notifications' delivery jobs
are published after that commit, so a slow channel never holds an evaluation.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction

from jobs.alerts.kinds import Finding, kind_of
from jobs.alerts.models import Alert, AlertChange, AlertNotification, AlertRule, AlertStatus, Channel
from jobs.audit.services import audit_record
from jobs.clock import db_now
from jobs.db import clean_json
from jobs.errors import NotFound, ValidationFailed
from jobs.services import job_submit

logger = logging.getLogger(__name__)

DELIVERY_ACTOR = "alerts.deliver"
EDITABLE_FIELDS = ("enabled", "description", "parameters", "email_recipients", "webhook_url")
MAX_RECIPIENTS = 50
DETAILS_LIMIT_BYTES = 8192


# --- Evaluation -------------------------------------------------------------------------------


def alerts_evaluate() -> dict:
    """Evaluate every rule once: the built-in "Alert evaluation" schedule runs this each minute.

    Idempotent (a second run at the same moment changes nothing) and safe to run concurrently. A
    rule whose check fails is logged and reported; the other rules are evaluated all the same.
    """
    totals: Counter = Counter()
    errors = {}
    for rule_id, name in AlertRule.objects.order_by("pk").values_list("pk", "name"):
        try:
            totals.update(alert_rule_evaluate(rule_id=rule_id))
        except Exception as exc:  # one broken rule must not silence the others
            logger.exception("Alert rule %r could not be evaluated", name)
            errors[name] = f"{type(exc).__name__}: {exc}"[:300]
    return {key: totals[key] for key in ("rules", "opened", "kept", "resolved", "skipped")} | {"errors": errors}


def alert_rule_evaluate(*, rule_id: int) -> dict:
    """Evaluate one rule: open an alert per new subject, keep those still true, resolve the others
    (all of them when the rule is disabled). Returns counts of what it did."""
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update(skip_locked=True).filter(pk=rule_id).first()
        if rule is None:  # deleted, or another evaluation holds it right now
            return {"skipped": 1}
        now = db_now()
        findings: dict[str, Finding] = {}
        if rule.enabled:
            kind = kind_of(rule.kind)
            findings = kind.check(kind.clean({}, base=rule.parameters), now)
        open_alerts = {alert.subject: alert for alert in Alert.objects.filter(rule=rule, status=AlertStatus.OPEN)}
        counts = Counter(rules=1)
        kept = []
        for subject, finding in findings.items():
            details = clean_json(finding.details, limit_bytes=DETAILS_LIMIT_BYTES)
            if subject in open_alerts:
                alert = open_alerts[subject]
                alert.summary, alert.details, alert.last_evaluated_at = finding.summary[:500], details, now
                kept.append(alert)
            elif _alert_open(rule=rule, subject=subject, summary=finding.summary[:500], details=details, now=now):
                counts["opened"] += 1
        # One statement for every alert still true (their rows are this rule's: its lock covers them).
        Alert.objects.bulk_update(kept, ["summary", "details", "last_evaluated_at"], batch_size=500)
        counts["kept"] = len(kept)
        reason = "condition no longer holds" if rule.enabled else "rule disabled"
        for subject, alert in open_alerts.items():
            if subject not in findings and _alert_resolve(rule=rule, alert=alert, now=now, reason=reason):
                counts["resolved"] += 1
        AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now)  # update(): keeps updated_at
    return dict(counts)


def _alert_open(*, rule: AlertRule, subject: str, summary: str, details: dict, now: datetime) -> Alert | None:
    """Open an alert and write its "opened" notifications; None when an open one exists already
    (another evaluation opened it first: its message is that evaluation's)."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                rule=rule,
                subject=subject,
                status=AlertStatus.OPEN,
                summary=summary,
                details=details,
                opened_at=now,
                last_evaluated_at=now,
            )
            _notify(rule=rule, alert=alert, change=AlertChange.OPENED)
    except IntegrityError:
        return None
    return alert


def _alert_resolve(*, rule: AlertRule, alert: Alert, now: datetime, reason: str) -> bool:
    """Resolve an open alert (compare-and-set) and write its "resolved" notifications."""
    details = {**alert.details, "resolution": reason}
    if not Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=AlertStatus.RESOLVED, resolved_at=now, last_evaluated_at=now, details=details
    ):
        return False
    alert.refresh_from_db()
    _notify(rule=rule, alert=alert, change=AlertChange.RESOLVED)
    return True


def _notify(*, rule: AlertRule, alert: Alert, change: str) -> list[AlertNotification]:
    """One notification row per channel the rule names, and a delivery job each (published on commit).

    The unique (alert, change, channel) makes a second message for the same change impossible.
    """
    targets = []
    if rule.email_recipients:
        targets.append((Channel.EMAIL, list(rule.email_recipients)))
    if rule.webhook_url:
        targets.append((Channel.WEBHOOK, rule.webhook_url))
    created = []
    for channel, target in targets:
        notification = AlertNotification(alert=alert, change=change, channel=channel, target=target)
        notification.payload = notification_payload(rule=rule, alert=alert, change=change, notification=notification)
        notification.save(force_insert=True)
        job_submit(
            actor_name=DELIVERY_ACTOR,
            args=[str(notification.pk)],
            idempotency_key=f"alert-notification:{notification.pk}",
        )
        created.append(notification)
    return created


def notification_payload(*, rule: AlertRule, alert: Alert, change: str, notification: AlertNotification) -> dict:
    """The message of a change, as the webhook receives it (the email says the same in words)."""
    base_url = settings.ALERTS["DASHBOARD_URL"].rstrip("/")
    return {
        "event": f"alert.{change}",
        "notification_id": str(notification.pk),
        "alert": {
            "id": alert.pk,
            "subject": alert.subject,
            "status": alert.status,
            "summary": alert.summary,
            "details": alert.details,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "url": f"{base_url}/alerts/" if base_url else None,
        },
        "rule": {"id": rule.pk, "name": rule.name, "kind": rule.kind},
    }


# --- Rules ------------------------------------------------------------------------------------


def _clean_recipients(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationFailed("email_recipients must be a list of addresses.", details={"field": "email_recipients"})
    addresses = list(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(addresses) > MAX_RECIPIENTS:
        raise ValidationFailed(f"At most {MAX_RECIPIENTS} recipients.", details={"field": "email_recipients"})
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationFailed(
                f"{address!r} is not an email address.", details={"field": "email_recipients"}
            ) from None
    return addresses


def _clean_webhook_url(value) -> str:
    if not isinstance(value, str):
        raise ValidationFailed("webhook_url must be a string.", details={"field": "webhook_url"})
    value = value.strip()
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise ValidationFailed(
                "webhook_url must be an http or https URL (or empty for none).", details={"field": "webhook_url"}
            ) from None
        if len(value) > 500:
            raise ValidationFailed("webhook_url is longer than 500 characters.", details={"field": "webhook_url"})
    return value


def alert_rule_clean(*, kind: str, base: dict | None = None, **changes) -> dict:
    """``changes`` checked and completed (parameters merged over ``base``); raises ValidationFailed."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(f"Not editable: {', '.join(unknown)}.", details={"fields": unknown})
    cleaned = dict(changes)
    if "parameters" in changes:
        cleaned["parameters"] = kind_of(kind).clean(changes["parameters"], base=base)
    if "email_recipients" in changes:
        cleaned["email_recipients"] = _clean_recipients(changes["email_recipients"])
    if "webhook_url" in changes:
        cleaned["webhook_url"] = _clean_webhook_url(changes["webhook_url"])
    if "enabled" in changes and not isinstance(changes["enabled"], bool):
        raise ValidationFailed("enabled must be true or false.", details={"field": "enabled"})
    if "description" in changes and not isinstance(changes["description"], str):
        raise ValidationFailed("description must be a string.", details={"field": "description"})
    return cleaned


def alert_rule_update(*, rule_id, user: Any = None, **changes) -> AlertRule:
    """Change a rule's thresholds, channels or state; recorded in the audit trail.

    Parameters not named keep their values. A rule disabled has its open alerts resolved by the
    next evaluation. Raises NotFound, ValidationFailed.
    """
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().filter(pk=rule_id).first() if str(rule_id).isdigit() else None
        if rule is None:
            raise NotFound(f"Alert rule {rule_id} does not exist.")
        cleaned = alert_rule_clean(kind=rule.kind, base=rule.parameters, **changes)
        before = {field: getattr(rule, field) for field in cleaned}
        for field, value in cleaned.items():
            setattr(rule, field, value)
        rule.save()
        audit_record(
            user=user,
            action="alert_rule.update",
            target_type="alert_rule",
            target_id=rule.pk,
            detail={"rule": rule.name, "before": before, "after": cleaned},
        )
    return rule
