"""The audit page: every operator action, filtered and paged (staff only)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from jobs.audit import selectors
from jobs.audit.forms import AuditFilterForm, encode_cursor


@login_required
def audit(request):
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may read the audit trail.")
    form = AuditFilterForm(request.GET)
    result = {"rows": [], "newer": None, "older": None}
    if form.is_valid():
        after, before = form.cursor()
        result = selectors.audit_page(selectors.audit_list(**form.selector_filters()), after=after, before=before)
    filters = {k: v for k, v in request.GET.items() if k not in ("after", "before") and v}

    def link(**cursor) -> str:
        return "?" + urlencode({**filters, **cursor})

    context = {
        "form": form,
        "rows": result["rows"],
        "older_url": link(after=encode_cursor(result["older"])) if result["older"] else None,
        "newer_url": link(before=encode_cursor(result["newer"])) if result["newer"] else None,
        "export_url": "/api/v1/audit.csv?"
        + urlencode({k: v for k, v in filters.items() if k not in ("since", "until")}),
    }
    return render(request, "jobs/audit.html", context)
