"""Reads of the monitoring app for the API and the pages: violations (with waivers applied), status, scans."""

from __future__ import annotations

from django.db.models import BooleanField, Count, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.errors import NotFound
from jobs.models import Job, JobStatus
from jobs.scheduling.models import Schedule
from jobs.selectors import scheduler_status, system_health
from monitoring import rules as R
from monitoring.compiler import Compiler, dialect_for
from monitoring.models import (
    ACTIVE_STATUSES,
    SEVERITY_ORDER,
    Policy,
    Record,
    Rule,
    ScanRun,
    ScanStatus,
    Violation,
    ViolationEvent,
    ViolationStatus,
    Waiver,
)

ACTORS_BY_TYPE = {
    "full": ["monitoring.scan_violations"],
    "incremental": ["monitoring.continuous_scan"],
    "extract": ["monitoring.extract_rules"],
}
SCAN_ACTORS = ACTORS_BY_TYPE["full"] + ACTORS_BY_TYPE["incremental"]
ALL_ACTORS = SCAN_ACTORS + ACTORS_BY_TYPE["extract"]
CONTINUOUS_ACTOR = "monitoring.continuous_scan"


def _get(queryset, pk, label: str):
    try:
        return queryset.get(pk=int(pk))
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"{label} {pk} does not exist.") from None


# --- Waivers ---------------------------------------------------------------------------------------


def active_waivers(now=None) -> list[Waiver]:
    return list(Waiver.objects.filter(expires_at__gt=now or timezone.now()).order_by("id"))


def waived_sql(now=None) -> tuple[str, list]:
    """SQL that is true for a ``monitoring_violation`` row covered by a live waiver, and its params."""
    parts, params = [], []
    compiler = Compiler(dialect_for("wr.data"), today=(now or timezone.now()).date())
    for waiver in active_waivers(now):
        clause = (
            f"monitoring_violation.rule_id = {int(waiver.rule_id)}"
            if waiver.rule_id
            else f"monitoring_violation.policy_id = {int(waiver.policy_id)}"
        )
        if waiver.record_id:
            clause += f" AND monitoring_violation.record_id = {int(waiver.record_id)}"
        if waiver.condition:
            compiled = compiler.compile(R.validate_condition(waiver.condition, screen=False))
            clause += (
                " AND EXISTS (SELECT 1 FROM monitoring_record wr WHERE wr.id = monitoring_violation.record_id"
                f" AND {compiled.applicable.text} AND NOT {compiled.violated.text})"
            )
            params += compiled.applicable.params + compiled.violated.params
        parts.append(f"({clause})")
    return ("(" + " OR ".join(parts) + ")" if parts else "(1 = 0)"), params


def with_waived(queryset: QuerySet, now=None) -> QuerySet:
    sql, params = waived_sql(now)
    return queryset.annotate(waived=RawSQL(sql, params, output_field=BooleanField()))


# --- Violations ------------------------------------------------------------------------------------


def violation_list(
    *, status=None, severity=None, policy=None, rule=None, record=None, since=None, until=None, waived=None
) -> QuerySet:
    qs = with_waived(Violation.objects.select_related("rule", "record", "policy", "rule__policy"))
    if status:
        qs = qs.filter(status__in=status if isinstance(status, (list, tuple, set)) else [status])
    if severity:
        qs = qs.filter(policy__severity__in=severity if isinstance(severity, (list, tuple, set)) else [severity])
    if policy:
        qs = qs.filter(policy_id=policy)
    if rule:
        qs = qs.filter(rule_id=rule)
    if record:
        qs = qs.filter(record_id=record)
    if since:
        qs = qs.filter(first_seen__gte=since)
    if until:
        qs = qs.filter(first_seen__lt=until)
    if waived is not None:
        qs = qs.filter(waived=waived)
    return qs.order_by("-first_seen", "-id")


def violation_get(violation_id) -> Violation:
    qs = with_waived(Violation.objects.select_related("rule", "record", "policy", "opened_by_scan", "changed_by_scan"))
    return _get(qs, violation_id, "Violation")


def violation_events(violation_id) -> QuerySet:
    return ViolationEvent.objects.filter(violation_id=violation_id).select_related("user", "scan").order_by("at", "id")


def violation_counts(now=None) -> dict:
    """Counts by status (waived ones apart) and open ones by severity, of enabled rules and policies."""
    counts = {"open": 0, "acknowledged": 0, "muted": 0, "waived": 0, "resolved": 0}
    by_severity = {s.value: 0 for s in SEVERITY_ORDER}
    waived_by_severity = {s.value: 0 for s in SEVERITY_ORDER}
    qs = with_waived(Violation.objects.filter(rule__enabled=True, policy__enabled=True), now)
    rows = qs.order_by().values("status", "policy__severity", "waived").annotate(n=Count("*"))
    for row in rows:
        status, severity, n = row["status"], row["policy__severity"], row["n"]
        if row["waived"] and status in ACTIVE_STATUSES:
            counts["waived"] += n
            waived_by_severity[severity] += n
            continue
        counts[status] += n
        if status in (ViolationStatus.OPEN, ViolationStatus.ACKNOWLEDGED):
            by_severity[severity] += n
    return {"by_status": counts, "open_by_severity": by_severity, "waived_by_severity": waived_by_severity}


# --- Scans, schedule, status ------------------------------------------------------------------------


def continuous_schedule() -> Schedule | None:
    return Schedule.objects.filter(actor_name=CONTINUOUS_ACTOR).order_by("id").first()


def scan_state(scan: ScanRun | None, job: Job | None = None) -> str | None:
    """A scan's status, with a job that ended without telling the scan taken into account."""
    if scan is None:
        return None
    if job is None and scan.job_id:
        job = Job.objects.filter(pk=scan.job_id).first()
    if scan.status == ScanStatus.RUNNING and job is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return ScanStatus.FAILED
    return scan.status


def scan_runs(*, limit: int = 50) -> list[ScanRun]:
    """The newest scans; one whose job died without telling it (a poison scan) shows as failed."""
    scans = list(ScanRun.objects.select_related("policy", "job").order_by("-started_at", "-id")[:limit])
    for scan in scans:
        scan.status = scan_state(scan, scan.job)
    return scans


def last_scan() -> ScanRun | None:
    return ScanRun.objects.select_related("policy").filter(status=ScanStatus.SUCCEEDED).order_by("-finished_at").first()


def monitoring_status(now=None) -> dict:
    now = now or timezone.now()
    schedule = continuous_schedule()
    scheduler = scheduler_status()
    start_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    finished = ScanRun.objects.filter(status=ScanStatus.SUCCEEDED)
    recent = list(finished.order_by("-finished_at").values_list("duration_ms", flat=True)[:20])
    running = Job.objects.filter(
        actor_name__in=SCAN_ACTORS, status__in=(JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.PENDING)
    )
    return {
        "monitoring_active": bool(schedule and schedule.enabled and scheduler.get("ok")),
        "scheduler": scheduler,
        "schedule": None
        if schedule is None
        else {
            "id": schedule.pk,
            "enabled": schedule.enabled,
            "interval_seconds": schedule.interval_seconds,
            "cron": schedule.cron,
            "last_run_at": schedule.last_run_at,
        },
        "next_scheduled_scan": schedule.next_run_at if schedule and schedule.enabled else None,
        "last_scan": last_scan(),
        "scans_today": ScanRun.objects.filter(started_at__gte=start_of_day).count(),
        "running_scans": running.count(),
        "average_scan_duration_ms": round(sum(recent) / len(recent)) if recent else None,
        "records": Record.objects.filter(deleted_at__isnull=True).count(),
        "policies": Policy.objects.filter(enabled=True).count(),
        "rules": Rule.objects.filter(enabled=True, policy__enabled=True).count(),
        "violations": violation_counts(now),
        **ScanRun.objects.filter(started_at__gte=start_of_day).aggregate(
            violations_found_today=Coalesce(Sum("violations_opened") + Sum("violations_reopened"), 0),
            records_scanned_today=Coalesce(Sum("records_scanned"), 0),
        ),
    }


def scan_jobs(*, limit: int = 50, job_type: str | None = None, status: str | None = None) -> list[dict]:
    """The scan history: monitoring jobs, newest first, each with its ScanRun (if it started)."""
    actors = ACTORS_BY_TYPE.get(job_type, ALL_ACTORS) if job_type else ALL_ACTORS
    jobs = Job.objects.filter(actor_name__in=actors)
    if status:
        jobs = jobs.filter(status=status)
    jobs = list(jobs.order_by("-created_at", "-id")[:limit])
    scans = {s.job_id: s for s in ScanRun.objects.filter(job_id__in=[j.pk for j in jobs])}
    return [{"job": job, "scan": scans.get(job.pk)} for job in jobs]


def monitoring_health() -> dict:
    report = system_health()
    schedule = continuous_schedule()
    report["checks"]["continuous_scan_schedule"] = {
        "ok": bool(schedule and schedule.enabled),
        "next_run_at": schedule.next_run_at.isoformat() if schedule and schedule.next_run_at else None,
    }
    stale = last_scan()
    report["checks"]["last_scan"] = {
        "ok": True,
        "finished_at": stale.finished_at.isoformat() if stale and stale.finished_at else None,
    }
    return report


# --- Policies, rules, records ------------------------------------------------------------------------


def policy_list() -> QuerySet:
    return Policy.objects.annotate(rule_count=Count("rules", distinct=True)).order_by("name")


def policy_get(policy_id) -> Policy:
    return _get(Policy.objects.all(), policy_id, "Policy")


def rule_list(*, policy=None) -> QuerySet:
    qs = Rule.objects.select_related("policy").order_by("policy_id", "id")
    return qs.filter(policy_id=policy) if policy else qs


def rule_get(rule_id) -> Rule:
    return _get(Rule.objects.select_related("policy"), rule_id, "Rule")


def active_violation_counts_by_rule(rule_ids) -> dict[int, int]:
    rows = (
        Violation.objects.filter(rule_id__in=list(rule_ids), status__in=ACTIVE_STATUSES)
        .order_by()
        .values("rule_id")
        .annotate(n=Count("*"))
    )
    return {row["rule_id"]: row["n"] for row in rows}


def record_list(*, source=None, search=None, include_deleted=False) -> QuerySet:
    qs = Record.objects.all() if include_deleted else Record.objects.filter(deleted_at__isnull=True)
    if source:
        qs = qs.filter(source=source)
    if search:
        qs = qs.filter(external_id__icontains=search.strip()[:200])
    return qs.order_by("-updated_at", "-id")


def record_get(record_id) -> Record:
    return _get(Record.objects.all(), record_id, "Record")


def waiver_list(*, active=None) -> QuerySet:
    qs = Waiver.objects.select_related("policy", "rule", "record", "created_by")
    now = timezone.now()
    if active is True:
        qs = qs.filter(expires_at__gt=now)
    elif active is False:
        qs = qs.filter(expires_at__lte=now)
    return qs


def waiver_get(waiver_id) -> Waiver:
    return _get(waiver_list(), waiver_id, "Waiver")
