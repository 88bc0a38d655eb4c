"""Writes of the monitoring app: policies, rules, violations' manual transitions, waivers, scan requests.

Scans themselves live in ``monitoring.scans``, imports in ``monitoring.imports``.
"""

from __future__ import annotations

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from jobs.errors import ApplicationError, InvalidTransition, NotFound, ValidationFailed
from jobs.services import Submitted, job_submit
from monitoring import rules as R
from monitoring.compiler import postgres_pattern
from monitoring.models import (
    ACTIVE_STATUSES,
    Policy,
    Record,
    Rule,
    Severity,
    Violation,
    ViolationEvent,
    ViolationStatus,
    Waiver,
)

SCAN_ACTOR = "monitoring.scan_violations"
CONTINUOUS_ACTOR = "monitoring.continuous_scan"
EXTRACT_ACTOR = "monitoring.extract_rules"
S = ViolationStatus


def _get(model, pk, label: str):
    try:
        return model.objects.get(pk=int(pk))
    except (model.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"{label} {pk} does not exist.") from None


def _invalid(field: str, reason: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {reason}", details={"field": field, "reason": reason})


# --- Policies --------------------------------------------------------------------------------------

POLICY_FIELDS = ("name", "description", "text", "severity", "enabled", "sources")


def _check_policy(values: dict, *, policy_id=None) -> None:
    name = values.get("name")
    if "name" in values and (not isinstance(name, str) or not name.strip() or len(name) > 200):
        raise _invalid("name", "a name of 1 to 200 characters is required")
    if "severity" in values and values["severity"] not in Severity.values:
        raise _invalid("severity", f"use one of {', '.join(Severity.values)}")
    sources = values.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) and 0 < len(s) <= 100 for s in sources):
        raise _invalid("sources", "a list of record sources (strings of 1 to 100 characters)")
    if name and Policy.objects.filter(name=name).exclude(pk=policy_id).exists():
        raise _invalid("name", f"a policy named {name!r} exists already")


def policy_create(
    *, name: str, description: str = "", text: str = "", severity: str = "medium", enabled=True, sources=()
):
    values = {
        "name": name,
        "description": description,
        "text": text,
        "severity": severity,
        "enabled": enabled,
        "sources": list(sources),
    }
    _check_policy(values)
    return Policy.objects.create(**values)


def policy_update(*, policy_id, **changes) -> Policy:
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise _invalid(sorted(unknown)[0], "not a policy field")
    with transaction.atomic():
        policy = Policy.objects.select_for_update().filter(pk=policy_id).first()
        if policy is None:
            raise NotFound(f"Policy {policy_id} does not exist.")
        _check_policy(changes, policy_id=policy.pk)
        toggled = "enabled" in changes and changes["enabled"] != policy.enabled
        rescoped = "sources" in changes and sorted(changes["sources"]) != sorted(policy.sources)
        for key, value in changes.items():
            setattr(policy, key, value)
        if toggled or rescoped:  # every record is evaluated again
            policy.version += 1
        policy.save()
    return policy


def policy_delete(*, policy_id) -> None:
    _get(Policy, policy_id, "Policy").delete()


def _bump(policy_id) -> None:
    Policy.objects.filter(pk=policy_id).update(version=F("version") + 1, updated_at=timezone.now())


# --- Rules -----------------------------------------------------------------------------------------

RULE_FIELDS = ("field", "operator", "value", "value_type", "conditions", "message", "enabled")


def _check_patterns_in_database(condition: dict, prefix: str = "") -> None:
    """PostgreSQL runs the patterns: refuse one its regex engine does not accept (Python's may)."""
    if connection.vendor != "postgresql":
        return
    for i, child in enumerate(condition["conditions"]):
        _check_patterns_in_database(child, f"{prefix}conditions[{i}].")
    if condition["operator"] != "matches":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT '' ~ %s", [postgres_pattern(condition["value"])])
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise _invalid(f"{prefix}value", f"PostgreSQL does not accept the regular expression: {reason}") from None


CONDITION_FIELDS = ("field", "operator", "value", "value_type", "conditions")


def validated_rule_values(values: dict, *, screen: bool = True) -> dict:
    """Check a rule's fields (raises ValidationFailed naming the field); returns them normalised.

    ``screen=False`` when the condition is the stored one, unchanged (see ``rules.validate_condition``).
    """
    condition = R.validate_condition(values, screen=screen)
    _check_patterns_in_database(condition)
    message = values.get("message") or ""
    if not isinstance(message, str) or len(message) > 500:
        raise _invalid("message", "a message is a string of at most 500 characters")
    return {
        "field": condition["field"],
        "operator": condition["operator"],
        "value": condition["value"],
        "value_type": condition["value_type"],
        "conditions": [_stored(c) for c in condition["conditions"]],
        "message": message,
    }


def _stored(condition: dict) -> dict:
    # A group has no field nor value type (""), an operator without a value has None; "" is a real value
    # (status equals ""): dropping it would store a rule that no longer validates.
    stored = {k: condition[k] for k in ("field", "operator", "value_type") if condition[k] not in ("", None)}
    if condition["value"] is not None:
        stored["value"] = condition["value"]
    if condition["conditions"]:
        stored["conditions"] = [_stored(c) for c in condition["conditions"]]
    return stored


def rule_create(*, policy_id, enabled: bool = True, source_sentence="", source_start=None, source_end=None, **values):
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise _invalid(sorted(unknown)[0], "not a rule field")
    policy = _get(Policy, policy_id, "Policy")
    clean = validated_rule_values(values)
    with transaction.atomic():
        rule = Rule.objects.create(
            policy=policy,
            enabled=bool(enabled),
            source_sentence=source_sentence,
            source_start=source_start,
            source_end=source_end,
            **clean,
        )
        _bump(policy.pk)
    return rule


def rule_update(*, rule_id, **changes) -> Rule:
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise _invalid(sorted(unknown)[0], "not a rule field")
    with transaction.atomic():
        rule = Rule.objects.select_for_update().filter(pk=rule_id).first()
        if rule is None:
            raise NotFound(f"Rule {rule_id} does not exist.")
        merged = {name: getattr(rule, name) for name in RULE_FIELDS if name != "enabled"}
        merged.update({k: v for k, v in changes.items() if k != "enabled"})
        # A rule stored before a stricter pattern screen may still be disabled or renamed.
        changed = any(name in changes and changes[name] != getattr(rule, name) for name in CONDITION_FIELDS)
        clean = validated_rule_values(merged, screen=changed)
        for key, value in clean.items():
            setattr(rule, key, value)
        if "enabled" in changes:
            rule.enabled = bool(changes["enabled"])
        rule.save()
        _bump(rule.policy_id)
    return rule


def rule_delete(*, rule_id) -> None:
    rule = _get(Rule, rule_id, "Rule")
    with transaction.atomic():
        rule.delete()
        _bump(rule.policy_id)


# --- Violations: manual transitions ------------------------------------------------------------------

ACTIONS = {
    "acknowledge": (S.ACKNOWLEDGED, (S.OPEN, S.MUTED)),
    "mute": (S.MUTED, (S.OPEN, S.ACKNOWLEDGED)),
    "resolve": (S.RESOLVED, ACTIVE_STATUSES),
    "reopen": (S.OPEN, (S.ACKNOWLEDGED, S.MUTED, S.RESOLVED)),
}
REASON_REQUIRED = ("mute",)


def violation_act(*, violation_id, action: str, user=None, note: str = "") -> Violation:
    """Acknowledge, mute, resolve or reopen a violation (a conditional update and its event).

    Raises ValidationFailed (unknown action, mute without a reason), NotFound, InvalidTransition (409).
    A resolved violation that still holds is reopened by the next scan that evaluates it.
    """
    if action not in ACTIONS:
        raise _invalid("action", f"use one of {', '.join(ACTIONS)}")
    note = (note or "").strip()
    if action in REASON_REQUIRED and not note:
        raise _invalid("reason", f"a reason is required to {action} a violation")
    target, sources = ACTIONS[action]
    now = timezone.now()
    with transaction.atomic():
        violation = Violation.objects.select_for_update().filter(pk=violation_id).first()
        if violation is None:
            raise NotFound(f"Violation {violation_id} does not exist.")
        if violation.status not in sources:
            raise InvalidTransition(f"Violation {violation.pk} is {violation.status}; it cannot be {action}d.")
        fields = {"status": target, "status_changed_at": now, "note": note}
        fields["resolved_at"] = now if target == S.RESOLVED else None
        Violation.objects.filter(pk=violation.pk, status=violation.status).update(**fields)
        user = user if user is not None and user.is_authenticated else None
        ViolationEvent.objects.create(
            violation=violation, from_status=violation.status, to_status=target, at=now, user=user, note=note
        )
    violation.refresh_from_db()
    return violation


def violations_act_bulk(*, violation_ids, action: str, user=None, note: str = "") -> int:
    """Apply an action to each violation that allows it; returns how many changed."""
    changed = 0
    for violation_id in list(violation_ids)[:1000]:
        try:
            violation_act(violation_id=violation_id, action=action, user=user, note=note)
            changed += 1
        except (InvalidTransition, NotFound):
            continue
    return changed


# --- Waivers ---------------------------------------------------------------------------------------


def waiver_create(
    *, reason: str, owner: str, expires_at, policy_id=None, rule_id=None, record_id=None, condition=None, user=None
) -> Waiver:
    if (policy_id is None) == (rule_id is None):
        raise _invalid("rule_id", "give either a rule_id or a policy_id (not both)")
    if not isinstance(reason, str) or not reason.strip():
        raise _invalid("reason", "a reason is required")
    if not isinstance(owner, str) or not owner.strip() or len(owner) > 200:
        raise _invalid("owner", "an owner of 1 to 200 characters is required")
    if expires_at is None or timezone.is_naive(expires_at) or expires_at <= timezone.now():
        raise _invalid("expires_at", "an expiry in the future, with a time zone, is required")
    policy = _get(Policy, policy_id, "Policy") if policy_id is not None else None
    rule = _get(Rule, rule_id, "Rule") if rule_id is not None else None
    record = _get(Record, record_id, "Record") if record_id is not None else None
    return Waiver.objects.create(
        policy=policy,
        rule=rule,
        record=record,
        condition=waiver_condition(condition),
        reason=reason.strip(),
        owner=owner.strip(),
        expires_at=expires_at,
        created_by=user if user is not None and user.is_authenticated else None,
    )


def waiver_condition(condition) -> dict | None:
    """A waiver's condition as stored, checked like a rule's (ValidationFailed naming ``condition.…``).

    It runs in every read of violations: one PostgreSQL refuses would fail them all (the admin's
    edits pass here too).
    """
    if condition is None:
        return None
    try:
        normalised = R.validate_condition(condition)
    except ValidationFailed as exc:
        raise _invalid(f"condition.{exc.details['field']}", exc.details["reason"]) from None
    _check_patterns_in_database(normalised, "condition.")
    return _stored(normalised)


def waiver_revoke(*, waiver_id) -> Waiver:
    """End a waiver now (it stays on record, expired)."""
    waiver = _get(Waiver, waiver_id, "Waiver")
    Waiver.objects.filter(pk=waiver.pk).update(expires_at=timezone.now())
    waiver.refresh_from_db()
    return waiver


# --- Records ---------------------------------------------------------------------------------------


def record_delete(*, record_id) -> Record:
    """Mark a record deleted: the next scan that reads it resolves its violations ("record deleted")."""
    record = _get(Record, record_id, "Record")
    now = timezone.now()
    Record.objects.filter(pk=record.pk, deleted_at__isnull=True).update(deleted_at=now, updated_at=now)
    record.refresh_from_db()
    return record


# --- Jobs: scans and extraction ---------------------------------------------------------------------


def scan_key(policy_id) -> str:
    return f"monitoring.scan:{policy_id if policy_id is not None else 'all'}"


def scan_request(*, policy_id=None) -> Submitted:
    """Submit a manual full scan (of one policy or all); a live scan of the same scope is returned instead."""
    if policy_id is not None:
        policy_id = _get(Policy, policy_id, "Policy").pk
    return job_submit(
        actor_name=SCAN_ACTOR, kwargs={"policy_id": policy_id}, queue="scans", idempotency_key=scan_key(policy_id)
    )


class PolicyWithoutText(ApplicationError):
    """Rules are extracted from a policy's text: one without text is not in a state for it (409)."""

    status_code = 409
    code = "policy_without_text"


def extract_request(*, policy_id) -> Submitted:
    policy = _get(Policy, policy_id, "Policy")
    if not policy.text.strip():
        raise PolicyWithoutText(
            "The policy has no text to extract rules from.", details={"field": "text", "policy_id": policy.pk}
        )
    return job_submit(
        actor_name=EXTRACT_ACTOR,
        kwargs={"policy_id": policy.pk},
        queue="scans",
        idempotency_key=f"monitoring.extract:{policy.pk}",
    )


def rules_extract(*, policy_id) -> dict:
    """Turn the policy's text into disabled rules (one per understood sentence) and list the rest.

    A sentence that already produced a rule of this policy is not extracted twice.
    """
    from monitoring.extraction import extract

    policy = _get(Policy, policy_id, "Policy")
    known = set(policy.rules.exclude(source_sentence="").values_list("source_sentence", flat=True))
    created, skipped, unparsed = [], [], []
    for item in extract(policy.text):
        if item.rule is None:
            unparsed.append({"sentence": item.sentence, "start": item.start, "end": item.end, "reason": item.reason})
            continue
        if item.sentence in known:
            skipped.append(item.sentence)
            continue
        rule = rule_create(
            policy_id=policy.pk,
            enabled=False,  # a person reviews and enables extracted rules
            source_sentence=item.sentence,
            source_start=item.start,
            source_end=item.end,
            message=item.sentence,
            **item.rule,
        )
        known.add(item.sentence)
        created.append({"rule_id": rule.pk, "sentence": item.sentence})
    return {"policy_id": policy.pk, "created": created, "already_extracted": skipped, "unparsed": unparsed}
