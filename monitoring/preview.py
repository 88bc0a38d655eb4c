"""Impact preview: what a rule (as it is, or with proposed changes) would open and resolve. Writes nothing.

The same compiled SQL as a scan, over every live record, compared with the rule's active violations.
"""

from __future__ import annotations

from django.db import connection

from jobs.errors import ValidationFailed
from monitoring import rules as R
from monitoring import selectors, services
from monitoring.compiler import Compiler, dialect_for
from monitoring.sqlite import PatternTooSlow, slow_patterns

ACTIVE_SQL = "('open', 'acknowledged', 'muted')"
SAMPLE_SIZE = 20


def _sample(cursor, sql: str, params: list) -> tuple[int, list[dict]]:
    cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS counted", params)
    total = cursor.fetchone()[0]
    cursor.execute(
        f"SELECT s.record_id, m.source, m.external_id FROM ({sql}) AS s "
        f"JOIN monitoring_record m ON m.id = s.record_id ORDER BY s.record_id LIMIT {SAMPLE_SIZE}",
        params,
    )
    return total, [{"record_id": rid, "source": src, "external_id": ext} for rid, src, ext in cursor.fetchall()]


def _too_slow(condition: dict, exc: PatternTooSlow) -> ValidationFailed:
    """SQLite: the pattern, as written, is what takes too long; a 400 on its field, not a 500."""
    field = next((name for name, pattern in R.patterns(condition) if pattern == exc.pattern), "value")
    reason = f"{exc} on a record's value; simplify it"
    return ValidationFailed(f"{field}: {reason}", details={"field": field, "reason": reason})


def rule_preview(*, rule_id, changes: dict | None = None) -> dict:
    """Counts and samples of the violations the rule would open, keep and resolve if it ran now.

    ``changes`` are proposed rule fields (field, operator, value, value_type, conditions); they are
    validated like a save (ValidationFailed naming the field) and not stored.
    """
    rule = selectors.rule_get(rule_id)
    merged = {name: getattr(rule, name) for name in ("field", "operator", "value", "value_type", "conditions")}
    changed = {k: v for k, v in (changes or {}).items() if k in merged}
    merged.update(changed)
    clean = services.validated_rule_values(merged, screen=bool(changed))  # the stored rule as it is stored
    condition = R.validate_condition(clean, screen=False)
    compiled = Compiler(dialect_for("r.data")).compile(condition)
    sources = list(rule.policy.sources)
    live = "FROM monitoring_record r WHERE r.deleted_at IS NULL"
    if sources:
        live += f" AND r.source IN ({', '.join(['%s'] * len(sources))})"
    hits = f"SELECT r.id AS record_id {live} AND {compiled.violated.text}"
    hit_params = sources + list(compiled.violated.params)
    try:
        with slow_patterns(), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {compiled.applicable.text} THEN 1 ELSE 0 END), 0) {live}",
                list(compiled.applicable.params) + sources,
            )
            records, applicable = cursor.fetchone()
            cursor.execute(f"SELECT COUNT(*) FROM ({hits}) AS h", hit_params)
            violating = cursor.fetchone()[0]
            would_open, open_sample = _sample(
                cursor,
                f"SELECT h.record_id FROM ({hits}) AS h WHERE NOT EXISTS (SELECT 1 FROM monitoring_violation v "
                f"WHERE v.rule_id = %s AND v.record_id = h.record_id AND v.status IN {ACTIVE_SQL})",
                [*hit_params, rule.pk],
            )
            would_resolve, resolve_sample = _sample(
                cursor,
                f"SELECT v.record_id FROM monitoring_violation v WHERE v.rule_id = %s AND v.status IN {ACTIVE_SQL} "
                f"AND NOT EXISTS (SELECT 1 FROM ({hits}) AS h WHERE h.record_id = v.record_id)",
                [rule.pk, *hit_params],
            )
    except PatternTooSlow as exc:
        raise _too_slow(condition, exc) from None
    return {
        "rule_id": rule.pk,
        "rule": R.describe(condition),
        "records_evaluated": records,
        "applicable": int(applicable),
        "violating": violating,
        "would_open": would_open,
        "would_open_sample": open_sample,
        "would_stay_open": violating - would_open,
        "would_resolve": would_resolve,
        "would_resolve_sample": resolve_sample,
    }
