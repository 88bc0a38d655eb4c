from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import services
from monitoring.models import Policy, Record, Violation
from tests.monitoring import dataset, oracle


def load_records(datas, *, source="erp", start=0, age=timedelta(hours=1)) -> list[Record]:
    """Records last changed ``age`` ago (older than any scan's overlap window)."""
    now = timezone.now() - age
    records = [
        Record(source=source, external_id=f"r{start + i}", data=data, created_at=now, updated_at=now)
        for i, data in enumerate(datas)
    ]
    Record.objects.bulk_create(records, batch_size=1000)
    return list(Record.objects.filter(source=source).order_by("id"))


def make_policy(name="Invoices", rules=(), severity="high"):
    policy = services.policy_create(name=name, severity=severity)
    created = [services.rule_create(policy_id=policy.pk, **rule) for rule in rules]
    return policy, created


def expected_violations(rules, *, today=None) -> set[tuple[int, int]]:
    """The oracle over the database's live records, for the given Rule rows."""
    live = Record.objects.filter(deleted_at__isnull=True)
    found = set()
    for rule in rules:
        sources = Policy.objects.get(pk=rule.policy_id).sources
        records = dict((live.filter(source__in=sources) if sources else live).values_list("id", "data"))
        spec = {"field": rule.field, "operator": rule.operator, "value": rule.value, "value_type": rule.value_type}
        spec["conditions"] = rule.conditions
        found |= oracle.violations({rule.pk: spec}, records, today or timezone.localdate())
    return found


def active_pairs(**filters) -> set[tuple[int, int]]:
    return set(
        Violation.objects.filter(status__in=["open", "acknowledged", "muted"], **filters).values_list(
            "rule_id", "record_id"
        )
    )


@pytest.fixture
def invoice_policy(db):
    return make_policy(rules=dataset.RULES)
