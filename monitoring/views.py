"""Dashboard pages of compliance monitoring: the panel, violations, a violation, a policy with its rules.

Same conventions as ``jobs.views``: login required, reads through selectors, every change a
staff-only POST with CSRF; ``?partial=1`` renders only the live region of the panel.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jobs.errors import ApplicationError
from jobs.views import _back, _render, staff_action
from monitoring import preview, selectors, services
from monitoring import rules as R
from monitoring.models import SEVERITY_ORDER, ViolationStatus

PAGE_SIZE = 100


def _or_404(read, *args):
    try:
        return read(*args)
    except ApplicationError:
        raise Http404("Not found.") from None


@login_required
def overview(request):
    context = {
        "status": selectors.monitoring_status(),
        "scans": list(selectors.scan_runs(limit=10)),
        "policies": list(selectors.policy_list()),
        "severities": [s.value for s in SEVERITY_ORDER],
    }
    return _render(request, "monitoring/overview.html", context)


@staff_action
def scan_now(request):
    policy_id = request.POST.get("policy_id") or None
    try:
        submitted = services.scan_request(policy_id=policy_id)
        verb = "Started" if submitted.created else "Already running:"
        messages.success(request, f"{verb} scan job {submitted.job.pk}.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _back(request, reverse("monitoring:overview"))


def _int(value):
    return int(value) if value and str(value).isdigit() else None


@login_required
def violation_list(request):
    query = request.GET
    filters = {
        "status": [s for s in query.getlist("status") if s in ViolationStatus.values] or None,
        "severity": [s for s in query.getlist("severity") if s in [v.value for v in SEVERITY_ORDER]] or None,
        "policy": _int(query.get("policy")),
        "rule": _int(query.get("rule")),
        "record": _int(query.get("record")),
        "waived": {"yes": True, "no": False}.get(query.get("waived", "")),
    }
    qs = selectors.violation_list(**filters).order_by("-id")
    before = _int(query.get("before"))
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(qs[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    older = query.copy()
    older["before"] = rows[-1].pk if rows else ""
    context = {
        "rows": rows,
        "filters": filters,
        "policies": list(selectors.policy_list()),
        "statuses": ViolationStatus.values,
        "severities": [s.value for s in SEVERITY_ORDER],
        "older_url": f"?{older.urlencode()}" if more else None,
    }
    return render(request, "monitoring/violations.html", context)


@login_required
def violation_detail(request, violation_id):
    violation = _or_404(selectors.violation_get, violation_id)
    context = {
        "v": violation,
        "events": list(selectors.violation_events(violation.pk)),
        "evidence_json": json.dumps(violation.evidence, indent=2),
        "record_json": json.dumps(violation.record.data, indent=2),
        "actions": [a for a, (_, sources) in services.ACTIONS.items() if violation.status in sources],
    }
    return render(request, "monitoring/violation.html", context)


@staff_action
def violation_action(request, violation_id):
    try:
        services.violation_act(
            violation_id=violation_id,
            action=request.POST.get("action", ""),
            user=request.user,
            note=request.POST.get("reason", ""),
        )
        messages.success(request, "Done.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return _back(request, reverse("monitoring:violation", args=[violation_id]))


@staff_action
def violations_bulk(request):
    ids = [int(i) for i in request.POST.getlist("ids")[:1000] if i.isdigit()]
    action = request.POST.get("action", "")
    if not ids:
        messages.error(request, "Select violations first.")
    elif action not in ("acknowledge", "resolve"):
        messages.error(request, "Unknown action.")
    else:
        changed = services.violations_act_bulk(
            violation_ids=ids, action=action, user=request.user, note=request.POST.get("reason", "")
        )
        messages.success(request, f"{action.capitalize()}d {changed} of {len(ids)} selected violation(s).")
    return _back(request, reverse("monitoring:violations"))


def _policy_context(request, policy, preview_result=None):
    rules = list(selectors.rule_list(policy=policy.pk))
    counts = selectors.active_violation_counts_by_rule([r.pk for r in rules])
    return {
        "policy": policy,
        "rules": [{"rule": r, "active": counts.get(r.pk, 0), "reading": R.describe(R.condition_of(r))} for r in rules],
        "preview": preview_result,
        "extractions": selectors.scan_jobs(limit=5, job_type="extract"),
    }


@login_required
def policy_detail(request, policy_id):
    policy = _or_404(selectors.policy_get, policy_id)
    return render(request, "monitoring/policy.html", _policy_context(request, policy))


@login_required
@require_POST
def rule_preview(request, rule_id):
    rule = _or_404(selectors.rule_get, rule_id)
    changes = {}
    proposed = request.POST.get("value", "").strip()
    if proposed:  # "another value": JSON if it parses (10000, ["US", "CA"]), else the text itself
        try:
            changes["value"] = json.loads(proposed)
        except ValueError:
            changes["value"] = proposed
    try:
        result = preview.rule_preview(rule_id=rule.pk, changes=changes)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("monitoring:policy", policy_id=rule.policy_id)
    return render(request, "monitoring/policy.html", _policy_context(request, rule.policy, result))


@staff_action
def rule_toggle(request, rule_id):
    rule = _or_404(selectors.rule_get, rule_id)
    try:
        services.rule_update(rule_id=rule.pk, enabled=not rule.enabled)
        messages.success(request, f"Rule {rule.pk} {'disabled' if rule.enabled else 'enabled'}.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("monitoring:policy", policy_id=rule.policy_id)


@staff_action
def extract_rules(request, policy_id):
    try:
        submitted = services.extract_request(policy_id=policy_id)
        messages.success(request, f"Extracting rules (job {submitted.job.pk}); they arrive disabled.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("monitoring:policy", policy_id=policy_id)
