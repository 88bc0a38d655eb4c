"""Scans: evaluate rules inside the database and move violations through their lifecycle.

A scan is one transaction that locks the policies it evaluates (one scan at a time per policy) and
runs one or two *passes*. A pass is a set of rules over a set of records (all of them, or those
updated since a time): one statement writes the (rule, record) pairs that violate into a temporary
table, then a few set-based statements open, reopen and resolve violations and write their events.
Only what the pass evaluated may resolve: a violation of a record outside the pass is left alone.

Full scans do not touch violations that stay open: they stamp ``Rule.confirmed_at`` instead, so
that the bookkeeping of "last seen" costs one row per rule, not one per violation.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from jobs.errors import PermanentError
from monitoring import rules as R
from monitoring.compiler import Compiler, PostgresDialect, dialect_for
from monitoring.conf import monitoring_setting
from monitoring.models import Policy, Rule, ScanMode, ScanRun, ScanStatus

logger = logging.getLogger(__name__)

ACTIVE_SQL = "('open', 'acknowledged', 'muted')"
V_TABLE, E_TABLE, R_TABLE = "monitoring_violation", "monitoring_violationevent", "monitoring_record"


@dataclass
class Pass:
    rules: list[Rule]
    since: datetime | None  # None: every record
    conditions: dict[int, dict] = field(default_factory=dict)
    sources: dict[int, list[str]] = field(default_factory=dict)  # rule id → its policy's sources ([]: all)

    def source_filter(self, rule_id: int, column: str = "r.source") -> tuple[str, list]:
        """SQL limiting a rule to its policy's sources; a record outside them is not applicable."""
        sources = self.sources.get(rule_id) or []
        if not sources:
            return "", []
        return f"{column} IN ({', '.join(['%s'] * len(sources))}) AND ", list(sources)


@dataclass
class Counts:
    records_scanned: int = 0
    rules_evaluated: int = 0
    opened: int = 0
    still_open: int = 0
    resolved: int = 0
    reopened: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        # A full and an incremental pass read overlapping records: count each record once.
        self.records_scanned = max(self.records_scanned - other.records_scanned, other.records_scanned)


# --- The pass: SQL ----------------------------------------------------------------------------------


class PassRunner:
    def __init__(self, cursor, *, scan_id: int, now: datetime):
        self.cursor = cursor
        self.scan_id = scan_id
        self.now = now
        self.pg = connection.vendor == "postgresql"
        self.dialect = dialect_for("r.data")
        self.compiler = Compiler(self.dialect, today=now.date())

    def execute(self, sql: str, params=()) -> int:
        self.cursor.execute(sql, list(params))
        return self.cursor.rowcount

    def run(self, scan_pass: Pass) -> Counts:
        rules = scan_pass.rules
        counts = Counts(rules_evaluated=len(rules))
        if not rules:
            return counts
        self._create_tables(scan_pass)
        scope, scope_params = ("AND r.updated_at > %s", [scan_pass.since]) if scan_pass.since else ("", [])
        self.cursor.execute(f"SELECT COUNT(*) FROM {R_TABLE} r WHERE r.deleted_at IS NULL {scope}", scope_params)
        counts.records_scanned = self.cursor.fetchone()[0]
        hits = self._insert_hits(scan_pass, scope, scope_params)
        pause = monitoring_setting("SCAN_PAUSE_SECONDS")
        if pause:
            time.sleep(pause)
        rule_ids = ", ".join(str(int(rule.pk)) for rule in rules)
        if scan_pass.since is not None:
            counts.still_open = self._refresh_still_open()
        counts.reopened = self._reopen()
        counts.opened = self._open_new()
        if scan_pass.since is None:
            counts.still_open = hits - counts.opened - counts.reopened
        counts.resolved = self._resolve(rule_ids, scan_pass.since)
        self._drop_tables()
        return counts

    def _drop_tables(self) -> None:
        self.execute("DROP TABLE IF EXISTS monitoring_hits")
        self.execute("DROP TABLE IF EXISTS monitoring_scan_rules")

    def _create_tables(self, scan_pass: Pass) -> None:
        self._drop_tables()
        json_type = "jsonb" if self.pg else "TEXT"
        if not self.pg:  # PostgreSQL creates it from its query: CREATE TABLE AS may run in parallel
            self.execute(
                "CREATE TEMP TABLE monitoring_hits "
                f"(rule_id bigint NOT NULL, record_id bigint NOT NULL, actual {json_type})"
            )
        self.execute(
            "CREATE TEMP TABLE monitoring_scan_rules "
            f"(rule_id bigint PRIMARY KEY, policy_id bigint NOT NULL, base {json_type})"
        )
        rows = []
        for rule in scan_pass.rules:
            condition = scan_pass.conditions[rule.pk]
            base = {
                "path": condition["field"] or [leaf["field"] for leaf in R.leaves(condition)],
                "operator": condition["operator"],
                "expected": condition["value"] if not condition["conditions"] else R.describe(condition),
                "message": rule.message or R.describe(condition),
            }
            rows.append((rule.pk, rule.policy_id, json.dumps(base)))
        values = ", ".join(["(%s, %s, %s)"] * len(rows))
        self.execute(
            f"INSERT INTO monitoring_scan_rules (rule_id, policy_id, base) VALUES {values}",
            [x for row in rows for x in row],
        )

    def _insert_hits(self, scan_pass: Pass, scope: str, scope_params: list) -> int:
        if self.pg:
            return self._insert_hits_postgresql(scan_pass, scope, scope_params)
        compiled = [
            (rule.pk, self.compiler.compile(scan_pass.conditions[rule.pk]), scan_pass.conditions[rule.pk])
            for rule in scan_pass.rules
        ]
        selects, params = [], []
        for rule_id, c, condition in compiled:
            source_sql, source_values = scan_pass.source_filter(rule_id)
            selects.append(
                f"SELECT {int(rule_id)}, r.id, {self.compiler.actual(condition)} FROM {R_TABLE} r "
                f"WHERE r.deleted_at IS NULL {scope} AND {source_sql}{c.violated.text}"
            )
            params.extend(scope_params + source_values + c.violated.params)
        inserted = self.execute(
            f"INSERT INTO monitoring_hits (rule_id, record_id, actual) {' UNION ALL '.join(selects)}", params
        )
        self.execute("CREATE INDEX temp.monitoring_hits_pair ON monitoring_hits (rule_id, record_id)")
        return inserted

    def _insert_hits_postgresql(self, scan_pass: Pass, scope: str, scope_params: list) -> int:
        """One pass over the records: each rule is one element of an array of violated rule ids, and
        only the rows with a hit are unnested (OFFSET 0 keeps the array from being computed twice).
        CREATE TABLE AS, unlike INSERT, lets PostgreSQL spread the pass over parallel workers."""
        outer = Compiler(PostgresDialect("f.data"), today=self.now.date())
        flags, actuals, params = [], [], []
        for rule in scan_pass.rules:
            condition = scan_pass.conditions[rule.pk]
            violated = self.compiler.compile(condition).violated
            scope_sql, scope_values = scan_pass.source_filter(rule.pk)
            flags.append(f"CASE WHEN {scope_sql}{violated.text} THEN {int(rule.pk)}::bigint END")
            params.extend(scope_values + violated.params)
            actuals.append(f"WHEN {int(rule.pk)} THEN {outer.actual(condition)}")
        sql = (
            "CREATE TEMP TABLE monitoring_hits AS "
            f"SELECT u.rule_id, f.id AS record_id, CASE u.rule_id {' '.join(actuals)} END AS actual FROM ("
            f"SELECT r.id, r.data, array_remove(ARRAY[{', '.join(flags)}], NULL) AS flags "
            f"FROM {R_TABLE} r WHERE r.deleted_at IS NULL {scope} OFFSET 0"
            ") AS f CROSS JOIN LATERAL unnest(f.flags) AS u(rule_id) WHERE cardinality(f.flags) > 0"
        )
        inserted = self.execute(sql, params + scope_params)
        if scan_pass.since is not None:
            # The changed records' statistics are always stale (they just changed): the planner
            # guesses one row and probes the hits in a nested loop, which needs an index.
            self.execute("CREATE INDEX monitoring_hits_pair ON monitoring_hits (record_id, rule_id)")
        self.execute("ANALYZE monitoring_hits")
        return inserted

    def _evidence(self) -> str:
        if self.pg:
            return "(t.base || jsonb_build_object('actual', h.actual))"
        return "json_set(t.base, '$.actual', json(h.actual))"

    def _refresh_still_open(self) -> int:
        return self.execute(
            f"UPDATE {V_TABLE} AS v SET last_seen = %s, evidence = {self._evidence()} "
            "FROM monitoring_hits h JOIN monitoring_scan_rules t ON t.rule_id = h.rule_id "
            f"WHERE h.rule_id = v.rule_id AND h.record_id = v.record_id AND v.status IN {ACTIVE_SQL}",
            [self.now],
        )

    def _reopen(self) -> int:
        self.execute(
            f"INSERT INTO {E_TABLE} (violation_id, from_status, to_status, at, scan_id, user_id, note) "
            "SELECT v.id, v.status, 'open', %s, %s, NULL, '' "
            f"FROM {V_TABLE} v JOIN monitoring_hits h ON h.rule_id = v.rule_id AND h.record_id = v.record_id "
            "WHERE v.status = 'resolved'",
            [self.now, self.scan_id],
        )
        return self.execute(
            f"UPDATE {V_TABLE} AS v SET status = 'open', status_changed_at = %s, last_seen = %s, resolved_at = NULL, "
            f"reopened_count = v.reopened_count + 1, changed_by_scan_id = %s, evidence = {self._evidence()} "
            "FROM monitoring_hits h JOIN monitoring_scan_rules t ON t.rule_id = h.rule_id "
            "WHERE h.rule_id = v.rule_id AND h.record_id = v.record_id AND v.status = 'resolved'",
            [self.now, self.now, self.scan_id],
        )

    def _open_new(self) -> int:
        # ON CONFLICT: an idempotent upsert, whatever ran before (a re-run, a concurrent writer).
        opened = self.execute(
            f"INSERT INTO {V_TABLE} (rule_id, record_id, policy_id, status, status_changed_at, first_seen, last_seen, "
            "resolved_at, reopened_count, evidence, note, opened_by_scan_id, changed_by_scan_id) "
            f"SELECT h.rule_id, h.record_id, t.policy_id, 'open', %s, %s, %s, NULL, 0, {self._evidence()}, '', %s, %s "
            "FROM monitoring_hits h JOIN monitoring_scan_rules t ON t.rule_id = h.rule_id "
            f"WHERE NOT EXISTS (SELECT 1 FROM {V_TABLE} v WHERE v.rule_id = h.rule_id AND v.record_id = h.record_id) "
            "ON CONFLICT (rule_id, record_id) DO NOTHING",
            [self.now, self.now, self.now, self.scan_id, self.scan_id],
        )
        if opened:
            self.execute(
                f"INSERT INTO {E_TABLE} (violation_id, from_status, to_status, at, scan_id, user_id, note) "
                f"SELECT v.id, '', 'open', %s, %s, NULL, '' FROM {V_TABLE} v WHERE v.opened_by_scan_id = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {E_TABLE} e WHERE e.violation_id = v.id)",
                [self.now, self.scan_id, self.scan_id],
            )
        return opened

    def _resolve(self, rule_ids: str, since: datetime | None) -> int:
        where = (
            f"v.rule_id IN ({rule_ids}) AND v.status IN {ACTIVE_SQL} AND NOT EXISTS "
            "(SELECT 1 FROM monitoring_hits h WHERE h.rule_id = v.rule_id AND h.record_id = v.record_id)"
        )
        params = []
        if since is not None:
            where += f" AND v.record_id IN (SELECT id FROM {R_TABLE} WHERE updated_at > %s)"
            params.append(since)
        self.execute(
            f"INSERT INTO {E_TABLE} (violation_id, from_status, to_status, at, scan_id, user_id, note) "
            "SELECT v.id, v.status, 'resolved', %s, %s, NULL, "
            "CASE WHEN r.deleted_at IS NULL THEN '' ELSE 'record deleted' END "
            f"FROM {V_TABLE} v JOIN {R_TABLE} r ON r.id = v.record_id WHERE {where}",
            [self.now, self.scan_id, *params],
        )
        return self.execute(
            f"UPDATE {V_TABLE} AS v SET status = 'resolved', status_changed_at = %s, resolved_at = %s, "
            f"changed_by_scan_id = %s WHERE {where}",
            [self.now, self.now, self.scan_id, *params],
        )


# --- The scan: planning, locking, the ScanRun row ----------------------------------------------------


def _scan_run_for(*, job, mode: str, policy_id) -> ScanRun:
    fields = {
        "mode": mode,
        "policy_id": policy_id,
        "status": ScanStatus.RUNNING,
        "started_at": timezone.now(),
        "finished_at": None,
        "error": "",
        "duration_ms": None,
    }
    if job is None:
        return ScanRun.objects.create(**fields)
    scan, _ = ScanRun.objects.update_or_create(job_id=job.job_id, defaults=fields)  # a re-run reuses its row
    return scan


def last_watermark() -> datetime | None:
    """Where the continuous scan resumes: the newest watermark of a successful scan of every policy."""
    return (
        ScanRun.objects.filter(status=ScanStatus.SUCCEEDED, policy__isnull=True, watermark__isnull=False)
        .order_by("-watermark")
        .values_list("watermark", flat=True)
        .first()
    )


def _rules_by_policy(policies: list[Policy]) -> dict[int, list[Rule]]:
    by_policy: dict[int, list[Rule]] = {p.pk: [] for p in policies}
    for rule in Rule.objects.filter(policy_id__in=list(by_policy), enabled=True).order_by("id"):
        by_policy[rule.policy_id].append(rule)
    return by_policy


def _needs_full(policy: Policy, rules: list[Rule], conditions: dict, today) -> bool:
    if policy.scanned_version != policy.version:
        return True
    return policy.scanned_day != today and any(R.is_relative(conditions[r.pk]) for r in rules)


def _plan(policies: list[Policy], *, mode: str, since: datetime | None, today) -> tuple[list[Pass], list[dict], set]:
    by_policy = _rules_by_policy(policies)
    full, incremental, details, full_policies = Pass([], None), Pass([], since), [], set()
    for policy in policies:
        rules = by_policy[policy.pk]
        conditions = {}
        for rule in rules:
            try:
                conditions[rule.pk] = R.condition_of(rule)
            except Exception as exc:  # a stored rule that no longer validates: report, never crash the scan
                raise PermanentError(f"Rule {rule.pk} of policy {policy.pk} is invalid: {exc}") from None
        go_full = mode == ScanMode.FULL or since is None or _needs_full(policy, rules, conditions, today)
        target = full if go_full else incremental
        target.rules.extend(rules)
        target.conditions.update(conditions)
        target.sources.update({rule.pk: list(policy.sources) for rule in rules})
        if go_full:
            full_policies.add(policy.pk)
        details.append(
            {
                "policy_id": policy.pk,
                "policy": policy.name,
                "mode": "full" if go_full else "incremental",
                "rules": len(rules),
            }
        )
    return [p for p in (full, incremental) if p.rules], details, full_policies


def scan_execute(*, mode: str = ScanMode.FULL, policy_id=None, job=None) -> dict:
    """Run a scan now (full, or incremental from the last watermark); returns its figures.

    ``policy_id`` limits it to one policy; ``job`` is the running job (progress, the ScanRun's link).
    Raises PermanentError for an unknown policy.
    """
    if policy_id is not None and not Policy.objects.filter(pk=policy_id).exists():
        raise PermanentError(f"Policy {policy_id} does not exist.")
    if mode == ScanMode.INCREMENTAL and policy_id is not None:
        raise PermanentError("An incremental scan covers every policy; scan one policy in full instead.")
    scan = _scan_run_for(job=job, mode=mode, policy_id=policy_id)
    started_clock = time.perf_counter()
    if job is not None:
        job.progress(5, "evaluating rules")
    previous = last_watermark() if mode == ScanMode.INCREMENTAL else None
    since = previous - timedelta(seconds=monitoring_setting("SCAN_OVERLAP_SECONDS")) if previous else None
    try:
        counts, details = _run_locked(scan, mode=mode, policy_id=policy_id, since=since)
    except BaseException as exc:
        ScanRun.objects.filter(pk=scan.pk).update(
            status=ScanStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}"[:5000],
            duration_ms=int((time.perf_counter() - started_clock) * 1000),
        )
        raise
    duration_ms = int((time.perf_counter() - started_clock) * 1000)
    ScanRun.objects.filter(pk=scan.pk).update(
        status=ScanStatus.SUCCEEDED,
        finished_at=timezone.now(),
        watermark=scan.started_at,
        since=since,
        records_scanned=counts.records_scanned,
        rules_evaluated=counts.rules_evaluated,
        violations_opened=counts.opened,
        violations_still_open=counts.still_open,
        violations_resolved=counts.resolved,
        violations_reopened=counts.reopened,
        duration_ms=duration_ms,
        details=details,
    )
    if job is not None:
        job.progress(100, "done")
    return {"scan_id": scan.pk, "mode": mode, "duration_ms": duration_ms, **counts.__dict__}


def _run_locked(scan: ScanRun, *, mode: str, policy_id, since) -> tuple[Counts, list[dict]]:
    now = scan.started_at
    counts = Counts()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # No wait for the WAL flush at this commit: the ScanRun update that records the new
            # watermark commits synchronously afterwards, and flushing its WAL flushes this one's
            # first. A crash in between loses the scan and its watermark together; the next runs again.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        policies = Policy.objects.filter(enabled=True).order_by("id")
        if policy_id is not None:
            policies = policies.filter(pk=policy_id)
        # Locked in id order: concurrent scans of a policy wait for each other instead of interleaving.
        locked = list(policies.select_for_update())
        passes, details, full_policies = _plan(locked, mode=mode, since=since, today=now.date())
        with connection.cursor() as cursor:
            runner = PassRunner(cursor, scan_id=scan.pk, now=now)
            for scan_pass in passes:
                counts.add(runner.run(scan_pass))
        full_rules = [rule.pk for scan_pass in passes if scan_pass.since is None for rule in scan_pass.rules]
        Rule.objects.filter(pk__in=full_rules).update(confirmed_at=now)
        for policy in locked:
            if policy.pk in full_policies:
                Policy.objects.filter(pk=policy.pk).update(scanned_version=policy.version, scanned_day=now.date())
    return counts, details
