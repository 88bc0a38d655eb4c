"""A scan pass: one set of rules over one set of records, evaluated and merged in SQL.

``evaluate`` writes the violating (rule, record) pairs into a temporary table in one statement
(one pass over the records); ``merge`` opens new violations (an idempotent upsert on the unique
(rule, record)), reopens resolved ones, resolves the active ones it no longer finds among the
records it read, and writes one event per change. Nothing here commits: callers own the transaction.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone

from monitoring import rules as R
from monitoring.compiler import Compiler, PostgresDialect, dialect_for
from monitoring.conf import monitoring_setting
from monitoring.models import Rule

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


class PassRunner:
    def __init__(self, cursor, *, scan_id: int, now: datetime):
        self.cursor = cursor
        self.scan_id = scan_id
        self.now = now
        self.pg = connection.vendor == "postgresql"
        self.dialect = dialect_for("r.data")
        self.compiler = Compiler(self.dialect, today=timezone.localdate(now))

    def execute(self, sql: str, params=()) -> int:
        self.cursor.execute(sql, list(params))
        return self.cursor.rowcount

    def run(self, scan_pass: Pass, index: int = 0) -> Counts:
        return self.merge(scan_pass, index, self.evaluate(scan_pass, index))

    def evaluate(self, scan_pass: Pass, index: int = 0) -> Counts:
        """Write the pass's violating (rule, record) pairs into its temporary tables; counts so far."""
        self._use(index)
        counts = Counts(rules_evaluated=len(scan_pass.rules))
        self._create_tables(scan_pass)
        scope, scope_params = ("AND r.updated_at > %s", [scan_pass.since]) if scan_pass.since else ("", [])
        self.cursor.execute(f"SELECT COUNT(*) FROM {R_TABLE} r WHERE r.deleted_at IS NULL {scope}", scope_params)
        counts.records_scanned = self.cursor.fetchone()[0]
        counts.still_open = self._insert_hits(scan_pass, scope, scope_params)  # all hits, for now
        pause = monitoring_setting("SCAN_PAUSE_SECONDS")
        if pause:
            time.sleep(pause)
        return counts

    def merge(self, scan_pass: Pass, index: int, counts: Counts) -> Counts:
        """Open, reopen and resolve violations from an evaluated pass, with their events."""
        self._use(index)
        hits = counts.still_open
        rule_ids = ", ".join(str(int(rule.pk)) for rule in scan_pass.rules)
        if scan_pass.since is not None:
            counts.still_open = self._refresh_still_open()
        full = scan_pass.since is None and self.pg
        if full:
            # The hits and the active violations, hundreds of thousands each, are neither sorted nor
            # analysed: one hash of either side is cheaper than the two sorts of a merge join, which
            # the planner picks for the anti-joins below when it cannot see their sizes.
            self.execute("SET LOCAL enable_mergejoin TO off")
        counts.reopened = self._reopen()
        counts.opened = self._open_new()
        if scan_pass.since is None:
            counts.still_open = hits - counts.opened - counts.reopened
        counts.resolved = self._resolve(rule_ids, scan_pass.since)
        if full:
            self.execute("SET LOCAL enable_mergejoin TO on")
        self._drop_tables()
        return counts

    def _use(self, index: int) -> None:
        self.hits, self.scan_rules = f"monitoring_hits_{index}", f"monitoring_scan_rules_{index}"

    def _drop_tables(self) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.hits}")
        self.execute(f"DROP TABLE IF EXISTS {self.scan_rules}")

    def _create_tables(self, scan_pass: Pass) -> None:
        self._drop_tables()
        json_type = "jsonb" if self.pg else "TEXT"
        if not self.pg:  # PostgreSQL creates it from its query: CREATE TABLE AS may run in parallel
            self.execute(
                f"CREATE TEMP TABLE {self.hits} "
                f"(rule_id bigint NOT NULL, record_id bigint NOT NULL, actual {json_type})"
            )
        self.execute(
            f"CREATE TEMP TABLE {self.scan_rules} "
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
            f"INSERT INTO {self.scan_rules} (rule_id, policy_id, base) VALUES {values}",
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
            f"INSERT INTO {self.hits} (rule_id, record_id, actual) {' UNION ALL '.join(selects)}", params
        )
        self.execute(f"CREATE INDEX temp.{self.hits}_pair ON {self.hits} (rule_id, record_id)")
        return inserted

    def _insert_hits_postgresql(self, scan_pass: Pass, scope: str, scope_params: list) -> int:
        """One pass over the records: each rule is one element of an array of violated rule ids,
        unnested in the select list. A subquery with a set-returning select list is not flattened,
        so the array is computed once per record, and a record without a hit yields no row; the
        unnest runs in the parallel workers, so only the hits cross to the leader, not every record.
        CREATE TABLE AS, unlike INSERT, lets PostgreSQL spread the pass over parallel workers."""
        outer = Compiler(PostgresDialect("h.data"), today=timezone.localdate(self.now))
        flags, actuals, params = [], [], []
        for rule in scan_pass.rules:
            condition = scan_pass.conditions[rule.pk]
            violated = self.compiler.compile(condition).violated
            scope_sql, scope_values = scan_pass.source_filter(rule.pk)
            flags.append(f"CASE WHEN {scope_sql}{violated.text} THEN {int(rule.pk)}::bigint END")
            params.extend(scope_values + violated.params)
            actuals.append(f"WHEN {int(rule.pk)} THEN {outer.actual(condition)}")
        sql = (
            f"CREATE TEMP TABLE {self.hits} AS "
            f"SELECT h.rule_id, h.record_id, CASE h.rule_id {' '.join(actuals)} END AS actual FROM ("
            f"SELECT r.id AS record_id, r.data, unnest(array_remove(ARRAY[{', '.join(flags)}], NULL)) AS rule_id "
            f"FROM {R_TABLE} r WHERE r.deleted_at IS NULL {scope}) AS h"
        )
        inserted = self.execute(sql, params + scope_params)
        if scan_pass.since is not None:
            # The changed records' statistics are always stale (they just changed): the planner
            # guesses one row and probes the hits in a nested loop, which needs an index.
            self.execute(f"CREATE INDEX {self.hits}_pair ON {self.hits} (record_id, rule_id)")
            self.execute(f"ANALYZE {self.hits}")
        # A full pass is not analysed: the planner sizes the hits from the table's pages and picks
        # the same hash and merge anti-joins; ANALYZE would cost a tenth of the bookkeeping.
        return inserted

    def _evidence(self) -> str:
        if self.pg:
            return "(t.base || jsonb_build_object('actual', h.actual))"
        return "json_set(t.base, '$.actual', json(h.actual))"

    def _refresh_still_open(self) -> int:
        return self.execute(
            f"UPDATE {V_TABLE} AS v SET last_seen = %s, evidence = {self._evidence()} "
            f"FROM {self.hits} h JOIN {self.scan_rules} t ON t.rule_id = h.rule_id "
            f"WHERE h.rule_id = v.rule_id AND h.record_id = v.record_id AND v.status IN {ACTIVE_SQL}",
            [self.now],
        )

    def _move(self, *, target: str, params: list, guard: str, to_status: str, assign: str, assign_params: list) -> int:
        """Move the violations ``target`` selects (id, from_status, note, evidence) to ``to_status``,
        one event each; returns how many moved. ``guard`` re-checks the status at the update.

        PostgreSQL selects them once and writes the update and its events in one statement; SQLite
        (no data-modifying CTE) writes the events, then the update, each selecting them again."""
        events = f"INSERT INTO {E_TABLE} (violation_id, from_status, to_status, at, scan_id, user_id, note) "

        def update(source: str) -> str:
            set_sql = f"SET status = %s, {assign}"
            return f"UPDATE {V_TABLE} AS moving {set_sql} FROM {source} AS target WHERE moving.id = target.id"

        event_params = [to_status, self.now, self.scan_id]
        if self.pg:
            return self.execute(
                f"WITH target AS ({target}), "
                f"moved AS ({update('target')} AND moving.status {guard} RETURNING moving.id) "
                f"{events} SELECT target.id, target.from_status, %s, %s, %s, NULL, target.note "
                "FROM target JOIN moved ON moved.id = target.id",
                [*params, to_status, *assign_params, *event_params],
            )
        self.execute(
            f"{events} SELECT target.id, target.from_status, %s, %s, %s, NULL, target.note FROM ({target}) AS target",
            [*event_params, *params],
        )
        # Not WITH … UPDATE: Python's sqlite3 reports no rowcount for a statement that starts with WITH.
        return self.execute(update(f"({target})"), [to_status, *assign_params, *params])

    def _reopen(self) -> int:
        return self._move(
            target=f"SELECT v.id, v.status AS from_status, '' AS note, {self._evidence()} AS evidence "
            f"FROM {V_TABLE} v JOIN {self.hits} h ON h.rule_id = v.rule_id AND h.record_id = v.record_id "
            f"JOIN {self.scan_rules} t ON t.rule_id = h.rule_id WHERE v.status = 'resolved'",
            params=[],
            guard="= 'resolved'",
            to_status="open",
            assign="status_changed_at = %s, last_seen = %s, resolved_at = NULL, reopened_count = "
            "reopened_count + 1, changed_by_scan_id = %s, evidence = target.evidence",
            assign_params=[self.now, self.now, self.scan_id],
        )

    def _open_new(self) -> int:
        # ON CONFLICT: an idempotent upsert, whatever ran before (a re-run, a concurrent writer).
        insert = (
            f"INSERT INTO {V_TABLE} (rule_id, record_id, policy_id, status, status_changed_at, first_seen, last_seen, "
            "resolved_at, reopened_count, evidence, note, opened_by_scan_id, changed_by_scan_id) "
            f"SELECT h.rule_id, h.record_id, t.policy_id, 'open', %s, %s, %s, NULL, 0, {self._evidence()}, '', %s, %s "
            f"FROM {self.hits} h JOIN {self.scan_rules} t ON t.rule_id = h.rule_id "
            f"WHERE NOT EXISTS (SELECT 1 FROM {V_TABLE} v WHERE v.rule_id = h.rule_id AND v.record_id = h.record_id) "
            "ON CONFLICT (rule_id, record_id) DO NOTHING"
        )
        insert_params = [self.now, self.now, self.now, self.scan_id, self.scan_id]
        events = f"INSERT INTO {E_TABLE} (violation_id, from_status, to_status, at, scan_id, user_id, note) "
        if self.pg:  # the events of exactly the rows inserted, in the same statement
            return self.execute(
                f"WITH opened AS ({insert} RETURNING id) {events} SELECT id, '', 'open', %s, %s, NULL, '' FROM opened",
                [*insert_params, self.now, self.scan_id],
            )
        opened = self.execute(insert, insert_params)
        if opened:
            self.execute(
                f"{events} SELECT v.id, '', 'open', %s, %s, NULL, '' FROM {V_TABLE} v WHERE v.opened_by_scan_id = %s "
                f"AND NOT EXISTS (SELECT 1 FROM {E_TABLE} e WHERE e.violation_id = v.id)",
                [self.now, self.scan_id, self.scan_id],
            )
        return opened

    def _resolve(self, rule_ids: str, since: datetime | None) -> int:
        if since is None:
            # Every record was read: no join with the records to find what to resolve, and the
            # deleted ones are looked up for the few violations that resolve, not for all of them.
            source, params = f"FROM {V_TABLE} v WHERE TRUE", []
            deleted = f"(SELECT r.deleted_at FROM {R_TABLE} r WHERE r.id = v.record_id) IS NOT NULL"
        else:
            source = f"FROM {V_TABLE} v JOIN {R_TABLE} r ON r.id = v.record_id WHERE r.updated_at > %s"
            params, deleted = [since], "r.deleted_at IS NOT NULL"
        return self._move(
            target=f"SELECT v.id, v.status AS from_status, CASE WHEN {deleted} THEN 'record deleted' ELSE '' END "
            f"AS note, NULL AS evidence {source} AND v.rule_id IN ({rule_ids}) AND v.status IN {ACTIVE_SQL} "
            f"AND NOT EXISTS (SELECT 1 FROM {self.hits} h WHERE h.rule_id = v.rule_id AND h.record_id = v.record_id)",
            params=params,
            guard=f"IN {ACTIVE_SQL}",
            to_status="resolved",
            assign="status_changed_at = %s, resolved_at = %s, changed_by_scan_id = %s",
            assign_params=[self.now, self.now, self.scan_id],
        )
