"""Compliance monitoring: policies and their rules, records, violations with their history, waivers, scans.

A ``Violation`` exists at most once per (rule, record); its status changes only through
``monitoring.services`` and ``monitoring.scans``, each change written with a ``ViolationEvent``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]


class Policy(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="", help_text="The policy text its rules were extracted from.")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    enabled = models.BooleanField(default=True)
    sources = models.JSONField(default=list, blank=True, help_text="The record sources it applies to; empty: all.")
    version = models.PositiveIntegerField(default=1, help_text="Bumped whenever the policy's rules or sources change.")
    # Written by scans only: the version and day of the last evaluation over every record.
    scanned_version = models.PositiveIntegerField(null=True, blank=True)
    scanned_day = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        constraints = [models.CheckConstraint(condition=Q(severity__in=Severity.values), name="policy_severity_valid")]

    def __str__(self):
        return self.name


class Rule(models.Model):
    """A requirement on a record's data; a record for which it does not hold violates it.

    ``operator`` is one of ``monitoring.rules.OPERATORS``; groups (``all``/``any``/``not``) keep their
    sub-rules in ``conditions``. See README (Monitoring) for the semantics of each operator.
    """

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="rules")
    field = models.CharField(max_length=300, blank=True, default="", help_text="Dotted path: items[0].sku")
    operator = models.CharField(max_length=20)
    value = models.JSONField(null=True, blank=True)
    value_type = models.CharField(max_length=10, blank=True, default="")
    conditions = models.JSONField(default=list, blank=True, help_text="Sub-rules of an all/any/not group.")
    message = models.CharField(max_length=500, blank=True, default="")
    enabled = models.BooleanField(default=True)
    source_sentence = models.TextField(blank=True, default="")
    source_start = models.PositiveIntegerField(null=True, blank=True)
    source_end = models.PositiveIntegerField(null=True, blank=True)
    # Written by full scans: every active violation of this rule was seen at least then.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["policy", "id"]

    def __str__(self):
        return f"{self.policy_id}: {self.field or self.operator} {self.operator}"


class Record(models.Model):
    source = models.CharField(max_length=100)
    external_id = models.CharField(max_length=200)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=now, editable=False)
    # Touched only when the data (or deletion) changes: incremental scans key on it.
    updated_at = models.DateTimeField(default=now, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source", "external_id"]
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="record_source_external_id_uniq")]

    def __str__(self):
        return f"{self.source}/{self.external_id}"


class ViolationStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    MUTED = "muted", "Muted"


# Statuses of a violation that still holds as far as the last evaluation knows.
ACTIVE_STATUSES = (ViolationStatus.OPEN, ViolationStatus.ACKNOWLEDGED, ViolationStatus.MUTED)


class ScanMode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"


class ScanStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ScanRun(models.Model):
    job = models.OneToOneField("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.SET_NULL, related_name="scans")
    mode = models.CharField(max_length=12, choices=ScanMode.choices)
    status = models.CharField(max_length=10, choices=ScanStatus.choices, default=ScanStatus.RUNNING)
    watermark = models.DateTimeField(null=True, blank=True, help_text="Records updated after it are read next time.")
    since = models.DateTimeField(null=True, blank=True, help_text="An incremental scan read records updated after it.")
    started_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)
    records_scanned = models.PositiveIntegerField(default=0)
    rules_evaluated = models.PositiveIntegerField(default=0)
    violations_opened = models.PositiveIntegerField(default=0)
    violations_still_open = models.PositiveIntegerField(default=0)
    violations_resolved = models.PositiveIntegerField(default=0)
    violations_reopened = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    details = models.JSONField(default=list, blank=True, help_text="Per policy: mode, records, rules.")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "-finished_at"], name="scanrun_status_finished_idx")]

    def __str__(self):
        return f"scan {self.pk} ({self.mode}, {self.status})"


class Violation(models.Model):
    # Scans write violations by the thousand, so each one costs as little as it can:
    # - No database constraint on most links: the database checks every foreign key of every row at
    #   the commit, a lookup each and a row lock on the record (a write to its page). Records are
    #   only ever deleted softly (``deleted_at``), ``policy`` repeats the rule's policy (the rule's
    #   constraint guards it), and the scan links are history. Django still applies on_delete.
    # - No index of their own: rule, record and policy lead the unique and composite indexes in
    #   Meta, and nothing looks violations up by scan.
    # Measured at 1,000 changed records of a 1M-record bench database: the commit of an
    # incremental scan took 23 ms with the constraints, 10 ms without.
    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="violations", db_index=False)
    record = models.ForeignKey(
        Record, on_delete=models.CASCADE, related_name="violations", db_constraint=False, db_index=False
    )
    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="violations", db_constraint=False, db_index=False
    )
    status = models.CharField(max_length=12, choices=ViolationStatus.choices, default=ViolationStatus.OPEN)
    status_changed_at = models.DateTimeField(default=now)
    first_seen = models.DateTimeField(default=now)
    last_seen = models.DateTimeField(default=now, help_text="See effective_last_seen: full scans confirm per rule.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    reopened_count = models.PositiveIntegerField(default=0)
    evidence = models.JSONField(default=dict)
    note = models.TextField(blank=True, default="", help_text="The reason given with the last manual change.")
    opened_by_scan = models.ForeignKey(
        ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False
    )
    changed_by_scan = models.ForeignKey(
        ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False
    )

    class Meta:
        ordering = ["-first_seen", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "record"], name="violation_rule_record_uniq"),
            models.CheckConstraint(condition=Q(status__in=ViolationStatus.values), name="violation_status_valid"),
        ]
        indexes = [
            models.Index(fields=["policy", "status"], name="violation_policy_status_idx"),
            models.Index(fields=["record", "status"], name="violation_record_status_idx"),
            models.Index(fields=["status", "-first_seen"], name="violation_status_seen_idx"),
        ]

    def __str__(self):
        return f"violation {self.pk} of rule {self.rule_id} by {self.record_id} ({self.status})"

    @property
    def effective_last_seen(self):
        confirmed = self.rule.confirmed_at if self.status in ACTIVE_STATUSES else None
        return max(self.last_seen, confirmed) if confirmed else self.last_seen


class ViolationEvent(models.Model):
    """A change of a violation's status: by a scan or by a person, when, from → to, why."""

    violation = models.ForeignKey(Violation, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, blank=True, default="", help_text="Blank: it was just opened.")
    to_status = models.CharField(max_length=12)
    at = models.DateTimeField(default=now)
    # No database constraint: see Violation's links.
    scan = models.ForeignKey(
        ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["to_status", "at"], name="violationevent_to_at_idx")]

    def __str__(self):
        return f"{self.violation_id}: {self.from_status or '∅'} → {self.to_status}"


class Waiver(models.Model):
    """An accepted exception: violations in its scope keep their status but count apart until it expires.

    Scope: a rule or a whole policy, narrowed to one record or to the records a condition matches.
    """

    policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.CASCADE, related_name="waivers")
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.CASCADE, related_name="waivers")
    record = models.ForeignKey(Record, null=True, blank=True, on_delete=models.CASCADE, related_name="waivers")
    condition = models.JSONField(null=True, blank=True, help_text="A rule-shaped condition the record must meet.")
    reason = models.TextField()
    owner = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(policy__isnull=False) & Q(rule__isnull=True))
                | (Q(policy__isnull=True) & Q(rule__isnull=False)),
                name="waiver_rule_or_policy",
            )
        ]

    def __str__(self):
        return f"waiver {self.pk} ({self.owner}, until {self.expires_at:%Y-%m-%d})"
