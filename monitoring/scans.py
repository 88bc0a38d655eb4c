"""Scans: evaluate rules inside the database and move violations through their lifecycle.

On PostgreSQL a scan is one transaction that locks the policies it evaluates (one scan at a time
per policy) and runs one or two *passes* (``monitoring.passes``): a full one over every record for
the policies that need it, an incremental one over the records changed since the watermark.
Only what a pass evaluated may resolve: a violation of a record outside the pass is left alone.
On SQLite the passes are evaluated first and merged in one short write transaction.

Full scans do not touch violations that stay open: they stamp ``Rule.confirmed_at`` instead, so
that the bookkeeping of "last seen" costs one row per rule, not one per violation.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from jobs.errors import PermanentError
from monitoring import rules as R
from monitoring.conf import monitoring_setting
from monitoring.models import Policy, Rule, ScanMode, ScanRun, ScanStatus
from monitoring.passes import Counts, Pass, PassRunner
from monitoring.sqlite import PatternTooSlow, slow_patterns

logger = logging.getLogger(__name__)


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
        conditions, skipped = {}, []
        for rule in by_policy[policy.pk]:
            try:
                conditions[rule.pk] = R.condition_of(rule)
            except Exception as exc:
                # A stored rule that no longer validates is skipped and reported: failing the scan would
                # stop every policy's evaluation for one bad row. Its violations are left as they are.
                logger.warning("Scan skips rule %s of policy %s: %s", rule.pk, policy.pk, exc)
                skipped.append({"rule_id": rule.pk, "reason": f"invalid rule: {exc}"[:500]})
        rules = [rule for rule in by_policy[policy.pk] if rule.pk in conditions]
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
                **({"skipped_rules": skipped} if skipped else {}),
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

    def finish(counts: Counts, details: list[dict]) -> int:
        """Record the outcome in the scan's own transaction: the violations it wrote and its new
        watermark commit together, or not at all. Returns the duration."""
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
        return duration_ms

    try:
        counts, duration_ms = _run_locked(scan, mode=mode, policy_id=policy_id, since=since, finish=finish)
    except BaseException as exc:
        ScanRun.objects.filter(pk=scan.pk).update(
            status=ScanStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{type(exc).__name__}: {exc}"[:5000],
            duration_ms=int((time.perf_counter() - started_clock) * 1000),
        )
        raise
    if job is not None:
        job.progress(100, "done")
    return {"scan_id": scan.pk, "mode": mode, "duration_ms": duration_ms, **counts.__dict__}


def _run_locked(scan: ScanRun, *, mode: str, policy_id, since, finish) -> tuple[Counts, int]:
    """Run the passes and ``finish(counts, details)`` in one transaction; (counts, its result)."""
    if connection.vendor == "sqlite":
        return _run_sqlite(scan, mode=mode, policy_id=policy_id, since=since, finish=finish)
    now = scan.started_at
    counts = Counts()
    with transaction.atomic():
        # No wait for the WAL flush at this commit: the violations and the ScanRun row with its new
        # watermark commit together, so a crash before the flush loses them together and the next
        # scan reads the same records again. A scan run as a job is flushed by the job's success,
        # which commits synchronously after this.
        # No JIT: a pass compiles every rule into one expression, which LLVM takes seconds to
        # compile and optimise, once in each parallel worker, for little gain in execution.
        # More memory for the merge: a full pass joins every hit with every active violation, and at
        # the default 4 MB those hashes and sorts spill to disk from about 100,000 violations on.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute("SET LOCAL jit TO OFF")
            cursor.execute("SET LOCAL work_mem TO %s", [monitoring_setting("SCAN_WORK_MEM")])
        # Locked in id order: concurrent scans of a policy wait for each other instead of interleaving.
        locked = list(_policies(policy_id).select_for_update())
        passes, details, full_policies = _plan(locked, mode=mode, since=since, today=timezone.localdate(now))
        with connection.cursor() as cursor:
            runner = PassRunner(cursor, scan_id=scan.pk, now=now)
            for index, scan_pass in enumerate(passes):
                counts.add(runner.run(scan_pass, index))
        _record_full_evaluations(passes, locked, full_policies, now)
        return counts, finish(counts, details)


def _run_sqlite(scan: ScanRun, *, mode: str, policy_id, since, finish) -> tuple[Counts, int]:
    """SQLite has one writer: a write transaction as long as the evaluation would stall every other
    writer, the job engine's heartbeats included. The passes are evaluated first (reading the
    records, writing temporary tables only), then merged in one short write transaction. A record
    that changes in between is newer than this scan's watermark: the next scan reads it again."""
    now = scan.started_at
    counts = Counts()
    policies = list(_policies(policy_id))
    passes, details, full_policies = _plan(policies, mode=mode, since=since, today=timezone.localdate(now))
    with connection.cursor() as cursor:
        runner = PassRunner(cursor, scan_id=scan.pk, now=now)
        try:
            with slow_patterns():
                evaluated = [runner.evaluate(scan_pass, index) for index, scan_pass in enumerate(passes)]
        except PatternTooSlow as exc:  # the same pattern is as slow the next time: no retry
            raise PermanentError(_too_slow_reason(passes, exc)) from None
        with transaction.atomic():  # BEGIN IMMEDIATE: one scan's writes at a time
            for index, (scan_pass, partial) in enumerate(zip(passes, evaluated, strict=True)):
                counts.add(runner.merge(scan_pass, index, partial))
            _record_full_evaluations(passes, policies, full_policies, now)
            return counts, finish(counts, details)


def _too_slow_reason(passes: list[Pass], exc: PatternTooSlow) -> str:
    rule_ids = sorted(
        rule_id
        for scan_pass in passes
        for rule_id, condition in scan_pass.conditions.items()
        if any(pattern == exc.pattern for _, pattern in R.patterns(condition))
    )
    rules = ", ".join(str(rule_id) for rule_id in rule_ids) or "?"
    return f"Rule {rules}: {exc} on a record's value ({R.shown(exc.pattern)}); simplify it or disable the rule."


def _policies(policy_id):
    policies = Policy.objects.filter(enabled=True).order_by("id")
    return policies.filter(pk=policy_id) if policy_id is not None else policies


def _record_full_evaluations(passes: list[Pass], policies: list[Policy], full_policies: set, now) -> None:
    full_rules = [rule.pk for scan_pass in passes if scan_pass.since is None for rule in scan_pass.rules]
    Rule.objects.filter(pk__in=full_rules).update(confirmed_at=now)
    for policy in policies:
        if policy.pk in full_policies:
            Policy.objects.filter(pk=policy.pk).update(
                scanned_version=policy.version, scanned_day=timezone.localdate(now)
            )
