"""Alert rules, the alerts they open, and one notification row per alert change and channel.

Two constraints carry the guarantees: at most one open alert per (rule, subject), so that two
evaluations at once never open the same alert twice; and at most one notification per (alert,
change, channel), written in the same transaction as the change, so that a change is announced
once however often it is evaluated or its delivery is retried.
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class AlertKind(models.TextChoices):
    STUCK_JOB = "stuck_job", "Job running past its actor's time limit"
    QUEUE_LATENCY = "queue_latency", "Oldest waiting job of a queue too old"
    FAILURE_RATE = "failure_rate", "Failure rate of an actor too high"
    MISSED_SCHEDULE = "missed_schedule", "Schedule missed a fire time"
    NO_WORKER = "no_worker", "No live worker serves a queue"


class AlertRule(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    # Thresholds of the kind (see jobs.alerts.kinds): checked and completed by the services.
    parameters = models.JSONField(default=dict, blank=True)
    email_recipients = models.JSONField(default=list, blank=True, help_text="Addresses told of each change.")
    webhook_url = models.URLField(max_length=500, blank=True, default="", help_text="Receives a JSON POST per change.")
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "jobs"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in AlertKind]), name="alert_rule_kind_valid"),
        ]

    def __str__(self):
        return self.name


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    # What the alert is about, "<type>:<id>": "queue:reports", "actor:echo", "schedule:3", "job:<uuid>".
    subject = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    summary = models.CharField(max_length=500, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField()

    class Meta:
        app_label = "jobs"
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["-opened_at", "-id"], name="alert_opened_idx"),
            models.Index(fields=["rule", "-opened_at"], name="alert_rule_opened_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject"], condition=Q(status="open"), name="alert_one_open_per_subject"
            ),
            models.CheckConstraint(condition=Q(status__in=[s.value for s in AlertStatus]), name="alert_status_valid"),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True) | Q(status="resolved", resolved_at__isnull=False),
                name="alert_resolved_at_iff_resolved",
            ),
        ]

    def __str__(self):
        return f"{self.rule_id} {self.subject} ({self.status})"


class AlertChange(models.TextChoices):
    OPENED = "opened", "Opened"
    RESOLVED = "resolved", "Resolved"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (retried by its job)"
    GAVE_UP = "gave_up", "Given up"


class AlertNotification(models.Model):
    """The one message of an alert change on one channel, and how its delivery went."""

    # Sent along as the webhook's Idempotency-Key: a retry after an ambiguous failure is recognisable.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    change = models.CharField(max_length=16, choices=AlertChange.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # Where it goes, as the rule said at the change: a later edit of the rule does not redirect it.
    target = models.JSONField(default=list, blank=True)
    # The message as of the change (an alert resolved before its "opened" message left still says opened).
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "jobs"
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "change", "channel"], name="alert_notification_once"),
        ]

    def __str__(self):
        return f"{self.alert_id} {self.change} by {self.channel} ({self.status})"
