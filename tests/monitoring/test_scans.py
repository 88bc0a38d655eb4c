"""Scans against the database: a full scan agrees with the independent oracle; the lifecycle holds."""

import pytest

from monitoring import scans
from monitoring.models import ScanMode, ScanRun, ViolationEvent
from tests.monitoring import dataset
from tests.monitoring.conftest import active_pairs, expected_violations, load_records

pytestmark = pytest.mark.django_db


def test_a_full_scan_opens_exactly_what_the_oracle_finds(invoice_policy):
    policy, rules = invoice_policy
    load_records(dataset.generate(600))
    expected = expected_violations(rules)
    result = scans.scan_execute(mode=ScanMode.FULL)
    assert active_pairs() == expected
    # Every rule is exercised both ways: some records violate it, some comply.
    per_rule = {rule.pk: sum(1 for r, _ in expected if r == rule.pk) for rule in rules}
    assert all(0 < n < 600 for n in per_rule.values()), per_rule
    assert result["opened"] == len(expected) and result["records_scanned"] == 600
    assert result["rules_evaluated"] == len(rules)
    assert ViolationEvent.objects.filter(from_status="", to_status="open").count() == len(expected)
    again = scans.scan_execute(mode=ScanMode.FULL)
    assert (again["opened"], again["resolved"], again["reopened"]) == (0, 0, 0)
    assert again["still_open"] == len(expected)
    assert ViolationEvent.objects.count() == len(expected)


def test_a_scan_whose_outcome_cannot_be_recorded_leaves_no_violation_behind(invoice_policy, monkeypatch):
    """The violations a scan writes and its ScanRun outcome (with the watermark the next continuous
    scan resumes from) commit together: violations committed under a scan still "running" would be
    read as written by nobody, and the watermark would not cover them."""
    from django.db import DatabaseError
    from django.db.models import QuerySet

    from monitoring.models import ScanStatus, Violation

    load_records(dataset.generate(200))
    real_update = QuerySet.update

    def update(queryset, **fields):
        if queryset.model is ScanRun and fields.get("status") == ScanStatus.SUCCEEDED:
            raise DatabaseError("the outcome could not be written")
        return real_update(queryset, **fields)

    monkeypatch.setattr(QuerySet, "update", update)
    with pytest.raises(DatabaseError):
        scans.scan_execute(mode=ScanMode.FULL)
    assert not Violation.objects.exists() and not ViolationEvent.objects.exists()
    scan = ScanRun.objects.get()
    assert scan.status == ScanStatus.FAILED and "outcome could not be written" in scan.error
    assert scan.watermark is None


def test_a_scan_whose_job_died_shows_as_failed(db):
    from jobs.models import JobStatus
    from monitoring import selectors
    from tests.factories import JobFactory

    job = JobFactory(status=JobStatus.FAILED, actor_name="monitoring.scan_violations")
    ScanRun.objects.create(job=job, mode=ScanMode.FULL)  # left running: its worker was killed for good
    assert [scan.status for scan in selectors.scan_runs()] == ["failed"]


PATTERNS = [
    r"\bword\b",
    r"\Bord\b",
    r"^\w+\b",
    r"[\b]",
    r"[]b]\b",
    r"^w.rd$",
    r"^.{0,6}$",
    r"(?s)^w.rd$",
    r"(?i)^W.RD",
    r"[.]",
    r"^.{,4}$",
    r"^swo{,1}rd",
    r"[{,1}]",
    r"(?m)^word$",
    r"(?m)^w.rd",
    r"(?m)w[^x]rd",
    r"(?sm)^w.rd$",
    r"(?ms)o.r",
    r"(?im)^WORD$",
    r"(?i)w[^x]RD",
    r"\x41B",
    r"[\x41-\x42]B",
    r"^\x77",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_pattern_means_in_the_database_what_it_means_in_python(db, pattern):
    """Patterns are Python's syntax (validation, SQLite and the oracle read them so); PostgreSQL
    reads \\b as a backspace and \\B as a backslash unless they are translated to \\y and \\Y,
    its "." matches a newline, Python's only under (?s), and it reads {,n} as text."""
    from tests.monitoring.conftest import make_policy

    _, rules = make_policy(rules=[{"field": "text", "operator": "matches", "value": pattern, "value_type": "string"}])
    texts = ["a word here", "swordfish", "word", "words", "sword", "b]x", "back\bspace", "]b", "b", "", "word-play"]
    texts += ["w\nrd", "wo\nrd", "line\none", "short", "w.rd", "first\nword\nlast", "AB", "\u041b", "BB"]
    load_records([{"text": text} for text in texts])
    scans.scan_execute(mode=ScanMode.FULL)
    assert active_pairs() == expected_violations(rules)
