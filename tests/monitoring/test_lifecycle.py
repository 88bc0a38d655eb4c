"""The violation lifecycle under continuous (incremental) scans: open, resolve, reopen, with events."""

import pytest
from django.utils import timezone

from monitoring import scans, selectors, services
from monitoring.models import Record, ScanMode, ScanRun, Violation, ViolationEvent
from tests.monitoring.conftest import active_pairs, expected_violations, load_records, make_policy

pytestmark = pytest.mark.django_db

RULES = [
    {"field": "amount", "operator": "lte", "value": 1000, "value_type": "number"},
    {"field": "approver", "operator": "is_not_empty"},
]


def change(record: Record, **data) -> None:
    """What an import does: new data and a new updated_at."""
    Record.objects.filter(pk=record.pk).update(data={**record.data, **data}, updated_at=timezone.now())


def continuous() -> dict:
    return scans.scan_execute(mode=ScanMode.INCREMENTAL)


def events(violation) -> list[tuple[str, str]]:
    return list(violation.events.order_by("id").values_list("from_status", "to_status"))


@pytest.fixture
def setup(db):
    policy, (amount_rule, approver_rule) = make_policy(rules=RULES)
    records = load_records([{"amount": 500 + 300 * i, "approver": "ann" if i % 2 else ""} for i in range(6)])
    return policy, amount_rule, approver_rule, records


def test_the_first_continuous_scan_reads_everything_then_only_what_changed(setup):
    policy, amount_rule, approver_rule, records = setup
    first = continuous()
    assert active_pairs() == expected_violations([amount_rule, approver_rule])
    assert first["records_scanned"] == 6
    scan = ScanRun.objects.get(pk=first["scan_id"])
    assert scan.mode == ScanMode.INCREMENTAL and scan.since is None and scan.details[0]["mode"] == "full"

    change(records[0], amount=5000)
    second = continuous()
    assert second["records_scanned"] == 1  # the unchanged five are older than the watermark's overlap
    assert ScanRun.objects.get(pk=second["scan_id"]).details[0]["mode"] == "incremental"


def test_change_add_delete_open_resolve_and_reopen_exactly_the_right_violations(setup):
    policy, amount_rule, approver_rule, records = setup
    continuous()
    a, b, c, untouched = records[2], records[0], records[3], records[4]  # amounts 1100, 500, 1400, 1700
    va = Violation.objects.get(rule=amount_rule, record=a)
    vu = Violation.objects.get(rule=amount_rule, record=untouched)
    change(a, amount=10)  # fixed: resolves
    change(b, amount=2000)  # broken: opens
    services.record_delete(record_id=c.pk)  # deleted: its violations resolve
    added = Record.objects.create(source="erp", external_id="new", data={"amount": 99999, "approver": "zed"})
    # The untouched record changes behind the scan's back (no updated_at): an incremental scan never reads it.
    Record.objects.filter(pk=untouched.pk).update(data={"amount": 1, "approver": "x"})

    result = continuous()
    assert (result["opened"], result["resolved"], result["reopened"]) == (2, 2, 0)  # b, added; a, c
    va.refresh_from_db()
    assert va.status == "resolved" and va.resolved_at and events(va) == [("", "open"), ("open", "resolved")]
    assert Violation.objects.get(rule=amount_rule, record=b).status == "open"
    assert Violation.objects.get(rule=amount_rule, record=added).status == "open"
    deleted = Violation.objects.filter(record=c)
    assert [v.status for v in deleted] == ["resolved"]
    assert set(
        ViolationEvent.objects.filter(violation__record=c, to_status="resolved").values_list("note", flat=True)
    ) == {"record deleted"}
    vu.refresh_from_db()
    assert vu.status == "open" and events(vu) == [("", "open")]  # left as it was

    change(a, amount=7777)  # broken again: reopens
    reopened = continuous()
    assert reopened["reopened"] == 1 and reopened["opened"] == 0
    va.refresh_from_db()
    assert va.status == "open" and va.reopened_count == 1 and va.resolved_at is None
    assert events(va) == [("", "open"), ("open", "resolved"), ("resolved", "open")]
    assert va.evidence["actual"] == 7777 and va.evidence["path"] == "amount"

    full = scans.scan_execute(mode=ScanMode.FULL)  # reads every record: now the untouched one resolves
    vu.refresh_from_db()
    assert vu.status == "resolved" and full["resolved"] == 2  # amount and approver of the untouched record
    assert active_pairs() == expected_violations([amount_rule, approver_rule])


def test_a_changed_policy_is_scanned_in_full_by_the_continuous_scan(setup):
    policy, amount_rule, approver_rule, records = setup
    continuous()
    amount_rule = services.rule_update(rule_id=amount_rule.pk, value=600)
    result = continuous()
    assert result["records_scanned"] == 6
    assert active_pairs() == expected_violations([amount_rule, approver_rule])
    assert ScanRun.objects.get(pk=result["scan_id"]).details[0]["mode"] == "full"


def test_acknowledged_and_muted_violations_stay_so_while_they_hold_and_resolve_when_fixed(setup, staff_user):
    policy, amount_rule, approver_rule, records = setup
    continuous()
    one, two = Violation.objects.filter(rule=amount_rule).order_by("id")[:2]
    services.violation_act(violation_id=one.pk, action="acknowledge", user=staff_user, note="on it")
    services.violation_act(violation_id=two.pk, action="mute", user=staff_user, note="known exception")
    scans.scan_execute(mode=ScanMode.FULL)
    assert Violation.objects.get(pk=one.pk).status == "acknowledged"
    assert Violation.objects.get(pk=two.pk).status == "muted"
    change(one.record, amount=1)
    continuous()
    assert Violation.objects.get(pk=one.pk).status == "resolved"
    assert events(one) == [("", "open"), ("open", "acknowledged"), ("acknowledged", "resolved")]
    assert ViolationEvent.objects.get(violation=one, to_status="acknowledged").user == staff_user


def test_a_waived_violation_counts_apart_and_counts_again_after_expiry(setup, staff_user):
    policy, amount_rule, approver_rule, records = setup
    continuous()
    before = selectors.violation_counts()["by_status"]
    target = Violation.objects.filter(rule=amount_rule).first()
    waiver = services.waiver_create(
        rule_id=amount_rule.pk,
        record_id=target.record_id,
        reason="Board approved",
        owner="cfo",
        expires_at=timezone.now() + timezone.timedelta(days=30),
        user=staff_user,
    )
    by_condition = services.waiver_create(
        policy_id=policy.pk,
        condition={"field": "amount", "operator": "gte", "value": 1700, "value_type": "number"},
        reason="Large legacy invoices",
        owner="ops",
        expires_at=timezone.now() + timezone.timedelta(days=1),
    )
    large = {r.pk for r in Record.objects.all() if r.data["amount"] >= 1700}
    active = Violation.objects.filter(status="open")
    expected_waived = {v.pk for v in active if v.pk == target.pk or v.record_id in large}
    during = selectors.violation_counts()["by_status"]
    assert during["waived"] == len(expected_waived) > 2
    assert set(selectors.violation_list(waived=True).values_list("id", flat=True)) == expected_waived
    assert during["open"] == before["open"] - during["waived"]
    target.refresh_from_db()
    assert target.status == "open"  # waived keeps its real status

    services.waiver_revoke(waiver_id=waiver.pk)
    services.waiver_revoke(waiver_id=by_condition.pk)
    after = selectors.violation_counts()["by_status"]
    assert after == before


def test_a_policy_applies_to_its_sources_and_rescoping_it_rescans(setup):
    policy, amount_rule, approver_rule, records = setup
    load_records([{"amount": 99999}], source="vendors")
    continuous()
    assert active_pairs() == expected_violations([amount_rule, approver_rule])
    vendor = Record.objects.get(source="vendors")
    assert Violation.objects.filter(record=vendor, status="open").count() == 2  # amount, approver (missing)

    services.policy_update(policy_id=policy.pk, sources=["erp"])
    result = continuous()  # the version moved: every record is read again
    assert result["records_scanned"] == 7
    assert not Violation.objects.filter(record=vendor, status="open").exists()
    assert active_pairs() == expected_violations([amount_rule, approver_rule])


def test_links_without_database_constraints_still_follow_their_on_delete(setup):
    """Violation.record/policy and the scan links carry no database constraint (a scan's commit
    would check each); Django's on_delete must still hold for each of them."""
    policy, amount_rule, _, records = setup
    continuous()
    violation = Violation.objects.filter(rule=amount_rule).order_by("id").first()
    scan = ScanRun.objects.get(pk=violation.opened_by_scan_id)
    assert ViolationEvent.objects.filter(violation=violation, scan=scan).exists()

    scan_id = scan.pk
    scan.delete()  # history links go NULL, nothing else goes
    violation.refresh_from_db()
    assert violation.opened_by_scan_id is None and violation.changed_by_scan_id is None
    assert not ViolationEvent.objects.filter(scan_id=scan_id).exists()
    assert ViolationEvent.objects.filter(violation=violation).exists()

    record_id = violation.record_id
    Record.objects.filter(pk=record_id).delete()  # a hard delete (the app deletes softly) cascades
    assert not Violation.objects.filter(record_id=record_id).exists()

    services.policy_delete(policy_id=policy.pk)
    assert not Violation.objects.exists() and not ViolationEvent.objects.exists()


def test_a_scan_locks_no_record(setup):
    """The records a scan reads stay as they were: no foreign-key check takes a row lock on them (a
    lock writes to the record's page). Checked inside the scan's transaction, deferred checks run."""
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    _, amount_rule, _, _ = setup
    with transaction.atomic():
        continuous()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred checks run now, in this transaction
            cursor.execute("SELECT count(*) FROM monitoring_record WHERE xmax <> '0'")  # locked or updated since loaded
            touched = cursor.fetchone()[0]
        assert Violation.objects.filter(rule=amount_rule).exists()
    assert touched == 0
