"""Reads of alerts and rules for the page and the API: a fixed number of queries at any size."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from jobs.alerts.kinds import KINDS
from jobs.alerts.models import Alert, AlertRule, AlertStatus

HISTORY_SIZE = 50


def alert_list(*, status: str | None = None, rule: int | None = None, kind: str | None = None) -> QuerySet:
    alerts = Alert.objects.select_related("rule").prefetch_related("notifications").order_by("-opened_at", "-id")
    if status:
        alerts = alerts.filter(status=status)
    if rule is not None:
        alerts = alerts.filter(rule_id=rule)
    if kind:
        alerts = alerts.filter(rule__kind=kind)
    return alerts


def alert_get(alert_id) -> Alert | None:
    if not str(alert_id).isdigit():
        return None
    return Alert.objects.select_related("rule").prefetch_related("notifications").filter(pk=int(alert_id)).first()


def rule_list() -> QuerySet:
    return AlertRule.objects.annotate(open_alerts=Count("alerts", filter=Q(alerts__status=AlertStatus.OPEN))).order_by(
        "name"
    )


def rule_get(rule_id) -> AlertRule | None:
    if not str(rule_id).isdigit():
        return None
    return rule_list().filter(pk=int(rule_id)).first()


def alerts_page() -> dict:
    """What the Alerts page shows: open alerts (oldest first), the latest resolved, and the rules
    with their parameters' descriptions."""
    rules = list(rule_list())
    for rule in rules:
        rule.param_specs = [
            {
                "name": name,
                "value": rule.parameters.get(name, spec.default),
                "spec": spec,
                "is_list": spec.choices is not None,
            }
            for name, spec in KINDS[rule.kind].params.items()
        ]
    return {
        "open": list(alert_list(status=AlertStatus.OPEN).order_by("opened_at", "id")),
        "history": list(alert_list(status=AlertStatus.RESOLVED)[:HISTORY_SIZE]),
        "rules": rules,
    }
