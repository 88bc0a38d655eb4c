"""Dashboard pages of the documents app: server-rendered, login required, uploads and reprocessing for staff.

Live regions (batch progress) use the same ``?partial=1`` convention as the job pages.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_date
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from documents import selectors, services
from documents.models import DocumentStatus, LedgerState
from documents.uploads import install_size_limit, max_files
from jobs.errors import ApplicationError
from jobs.views import _render

PAGE_SIZE = 50
TEXT_PREVIEW_CHARS = 20_000


def _require_staff(request, what: str) -> None:
    if not request.user.is_staff:
        raise PermissionDenied(f"Only staff may {what}.")


@require_GET
@login_required
def document_list(request):
    search = request.GET.get("q", "").strip()[:500]
    status = request.GET.get("status") or None
    mime_type = request.GET.get("type") or None
    created_after = parse_date(request.GET.get("after", "") or "") if request.GET.get("after") else None
    queryset = selectors.document_list(
        status=status if status in DocumentStatus.values else None,
        mime_type=mime_type,
        created_after=created_after,
        batch=request.GET.get("batch") or None,
        search=search,
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    if search:
        for document in rows:
            document.snippet = selectors.snippet_html(document, search)
    query = request.GET.copy()
    query.pop("page", None)
    counts = selectors.status_counts()
    context = {
        "page": page,
        "rows": rows,
        "search": search,
        "status": status or "",
        "mime_type": mime_type or "",
        "after": request.GET.get("after", ""),
        "statuses": DocumentStatus.choices,
        "types": selectors.document_types(),
        "status_cards": [(value, label, counts[value]) for value, label in DocumentStatus.choices],
        "query": query.urlencode(),
        "max_files": max_files(),
    }
    return render(request, "documents/list.html", context)


@require_GET
@login_required
def document_detail(request, document_id):
    document = selectors.document_get(document_id)
    if document is None:
        raise Http404("No such document.")
    job = document.job
    context = {
        "document": document,
        "job": job,
        "attempts": list(job.attempt_log.all()) if job else [],
        "preview": document.text[:TEXT_PREVIEW_CHARS],
        "preview_truncated": len(document.text) > TEXT_PREVIEW_CHARS,
        "metadata": sorted(document.metadata.items()),
    }
    return render(request, "documents/detail.html", context)


@csrf_exempt
@login_required
@require_POST
def document_upload(request):
    # The size check must be in place before the CSRF check reads the body.
    install_size_limit(request)
    return _upload(request)


@csrf_protect
def _upload(request):
    _require_staff(request, "upload documents")
    try:
        files = request.FILES.getlist("file")
        if not files:
            messages.error(request, "Choose one or more files to upload.")
            return redirect("documents:index")
        if len(files) > max_files():
            messages.error(request, f"At most {max_files()} files per upload.")
            return redirect("documents:index")
        result = services.documents_upload(files=[(f.file, f.name) for f in files], uploaded_by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("documents:index")
    if result.batch is not None:
        messages.success(request, f"{len(files)} files received as one batch.")
        return redirect("documents:batch", batch_id=result.batch.pk)
    received = result.received[0]
    if not received.created:
        messages.info(request, "The same file was uploaded before: this is that document.")
    return redirect("documents:document", document_id=received.document.pk)


@login_required
@require_POST
def document_reprocess(request, document_id):
    _require_staff(request, "reprocess documents")
    try:
        services.document_reprocess(document_id=document_id, metadata_only=bool(request.POST.get("metadata_only")))
        messages.success(request, "The document will be processed again.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("documents:document", document_id=document_id)


@require_GET
@login_required
def batch_list(request):
    page = Paginator(selectors.batch_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(batch, selectors.batch_progress(batch)) for batch in page.object_list]
    return _render(request, "documents/batches.html", {"rows": rows, "page": page})


@require_GET
@login_required
def batch_detail(request, batch_id):
    batch = selectors.batch_get(batch_id)
    if batch is None:
        raise Http404("No such batch.")
    documents = list(selectors.document_list(batch=batch.pk)[:500])
    context = {"batch": batch, "progress": selectors.batch_progress(batch), "documents": documents}
    return _render(request, "documents/batch.html", context)


@require_GET
@login_required
def ledger(request):
    state = request.GET.get("state") or None
    queryset = selectors.ledger_list(state=state if state in LedgerState.values else None)
    page = Paginator(queryset, PAGE_SIZE * 4).get_page(request.GET.get("page"))
    counts = selectors.ledger_counts()
    context = {
        "page": page,
        "state": state or "",
        "state_cards": [(value, label, counts.get(value, 0)) for value, label in LedgerState.choices],
    }
    return render(request, "documents/ledger.html", context)
