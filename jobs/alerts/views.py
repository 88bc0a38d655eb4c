"""The Alerts page: open alerts first, then the latest resolved, then the rules (staff edit them)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from jobs.alerts import selectors, services
from jobs.alerts.kinds import KINDS
from jobs.alerts.models import AlertRule
from jobs.errors import ApplicationError, ValidationFailed
from jobs.views import _render, staff_action


@login_required
def alerts(request):
    return _render(request, "alerts/index.html", selectors.alerts_page())


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def rule_changes(rule: AlertRule, post) -> dict:
    """The edit form's fields as the service's arguments; a number that is not one is a 400-like error."""
    if post.get("action") in ("enable", "disable"):
        return {"enabled": post["action"] == "enable"}
    parameters = {}
    for name, spec in KINDS[rule.kind].params.items():
        raw = post.get(f"param_{name}")
        if raw is None:
            continue
        if spec.choices is not None:
            parameters[name] = _split(raw)
        else:
            try:
                parameters[name] = int(raw.strip())
            except ValueError:
                raise ValidationFailed(f"{name} must be a whole number, not {raw!r}.") from None
    return {
        "parameters": parameters,
        "email_recipients": _split(post.get("email_recipients", "")),
        "webhook_url": post.get("webhook_url", "").strip(),
    }


@staff_action
def rule_update(request, rule_id):
    rule = selectors.rule_get(rule_id)
    if rule is None:
        messages.error(request, f"Alert rule {rule_id} does not exist.")
        return redirect("alerts:index")
    try:
        services.alert_rule_update(rule_id=rule.pk, user=request.user, **rule_changes(rule, request.POST))
        messages.success(request, f"Saved “{rule.name}”.")
    except ApplicationError as exc:
        messages.error(request, f"“{rule.name}” not saved: {exc.message}")
    return redirect("alerts:index")
