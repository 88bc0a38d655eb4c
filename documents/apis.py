"""The documents API: upload, list and search, detail, text, download, reprocess, batches, the ledger."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import selectors, services, storage
from documents.serializers import (
    MAX_PAGE_SIZE,
    BatchOutput,
    BatchPageOutput,
    DocumentDetailOutput,
    DocumentFilterInput,
    DocumentOutput,
    DocumentPageOutput,
    DocumentSearchOutput,
    DocumentTextOutput,
    JobRefOutput,
    LedgerFilterInput,
    LedgerOutput,
    LedgerPageOutput,
    PageNumberInput,
    ReprocessInput,
    UploadOutput,
)
from documents.uploads import install_size_limit, max_files, safe_download_name
from jobs.apis import StaffForWrites
from jobs.errors import NotFound, ValidationFailed

UPLOAD_FIELDS = ("file", "files")


class DocumentPagination(PageNumberPagination):
    """Page numbers: search results are ordered by rank, which a cursor cannot follow."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


PAST_THE_LAST_PAGE = OpenApiResponse(description="No such page (past the last one).")


def _document_or_404(document_id):
    document = selectors.document_get(document_id)
    if document is None:
        raise NotFound(f"Document {document_id} does not exist.")
    return document


def _batch_or_404(batch_id):
    batch = selectors.batch_get(batch_id)
    if batch is None:
        raise NotFound(f"Batch {batch_id} does not exist.")
    return batch


class DocumentListApi(APIView):
    permission_classes = [StaffForWrites]
    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        # Before authentication: the CSRF check of session auth reads the body.
        if request.method == "POST":
            install_size_limit(request)
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        parameters=[DocumentFilterInput],
        responses={200: DocumentPageOutput, 404: PAST_THE_LAST_PAGE},
        operation_id="v1_documents_list",
        summary="Documents with filters; `search` ranks by relevance and adds highlighted snippets",
    )
    def get(self, request):
        filters = DocumentFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        search = data.get("search", "")
        queryset = selectors.document_list(
            status=sorted(data["status"]) if data.get("status") else None,
            mime_type=data.get("type"),
            created_after=data.get("created_after"),
            created_before=data.get("created_before"),
            batch=data.get("batch"),
            search=search,
        )
        paginator = DocumentPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        if search:
            for document in page:
                document.snippet = selectors.snippet_html(document, search)
            return paginator.get_paginated_response(DocumentSearchOutput(page, many=True).data)
        return paginator.get_paginated_response(DocumentOutput(page, many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "DocumentUploadInput",
                {"file": serializers.ListField(child=serializers.FileField(), min_length=1, max_length=max_files())},
            )
        },
        responses={201: UploadOutput, 200: UploadOutput, 400: None, 413: None},
        summary="Upload one file or many (field `file`, repeated): many files make one batch",
    )
    def post(self, request):
        uploads = [upload for field in UPLOAD_FIELDS for upload in request.FILES.getlist(field)]
        if not uploads:
            raise ValidationFailed("Send one or more files in the multipart field `file`.", details={"field": "file"})
        if len(uploads) > max_files():
            raise ValidationFailed(f"At most {max_files()} files per upload.", details={"max_files": max_files()})
        result = services.documents_upload(
            files=[(upload.file, upload.name) for upload in uploads], uploaded_by=request.user
        )
        documents = []
        for received in result.received:
            received.document.duplicate = not received.created
            documents.append(received.document)
        batch = selectors.batch_get(result.batch.pk) if result.batch else None
        created = result.batch is not None or any(received.created for received in result.received)
        body = {"batch": batch, "documents": documents}
        return Response(UploadOutput(body).data, status=201 if created else 200)


class DocumentDetailApi(APIView):
    @extend_schema(responses={200: DocumentDetailOutput, 404: None}, summary="A document with its metadata")
    def get(self, request, document_id):
        return Response(DocumentDetailOutput(_document_or_404(document_id)).data)


class DocumentTextApi(APIView):
    @extend_schema(responses={200: DocumentTextOutput, 404: None}, summary="A document's extracted text")
    def get(self, request, document_id):
        document = _document_or_404(document_id)
        body = {"id": document.pk, "status": document.status, "characters": len(document.text), "text": document.text}
        return Response(DocumentTextOutput(body).data)


class DocumentDownloadApi(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: None},
        summary="Download the original file (an attachment; never rendered by the browser)",
    )
    def get(self, request, document_id):
        document = _document_or_404(document_id)
        try:
            handle = open(storage.path_of(document.storage_name), "rb")
        except (OSError, ValueError):
            raise NotFound("The document's file is no longer stored.") from None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=safe_download_name(document.original_name, fallback=f"document-{document.pk}"),
            content_type="application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class DocumentReprocessApi(APIView):
    permission_classes = [StaffForWrites]

    @extend_schema(
        request=ReprocessInput,
        responses={202: JobRefOutput, 404: None, 409: OpenApiResponse(description="Being processed now")},
        summary="Process a document again, or only read its metadata again",
    )
    def post(self, request, document_id):
        payload = ReprocessInput(data=request.data)
        payload.is_valid(raise_exception=True)
        job = services.document_reprocess(
            document_id=document_id, metadata_only=payload.validated_data["metadata_only"]
        )
        return Response(
            JobRefOutput({"job_id": job.pk, "actor": job.actor_name, "status": job.status}).data, status=202
        )


class BatchListApi(APIView):
    @extend_schema(
        parameters=[PageNumberInput],
        responses={200: BatchPageOutput, 404: PAST_THE_LAST_PAGE},
        operation_id="v1_documents_batches_list",
        summary="Batches with their progress, newest first",
    )
    def get(self, request):
        PageNumberInput(data=request.query_params).is_valid(raise_exception=True)
        paginator = DocumentPagination()
        page = paginator.paginate_queryset(selectors.batch_list(), request, view=self)
        return paginator.get_paginated_response(BatchOutput(page, many=True).data)


class BatchDetailApi(APIView):
    @extend_schema(responses={200: BatchOutput, 404: None}, summary="A batch and its progress")
    def get(self, request, batch_id):
        return Response(BatchOutput(_batch_or_404(batch_id)).data)


class LedgerListApi(APIView):
    @extend_schema(
        parameters=[LedgerFilterInput],
        responses={200: LedgerPageOutput, 404: PAST_THE_LAST_PAGE},
        operation_id="v1_documents_ledger_list",
        summary="Every file seen in a watched folder, and its state",
    )
    def get(self, request):
        filters = LedgerFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = DocumentPagination()
        queryset = selectors.ledger_list(state=filters.validated_data.get("state"))
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(LedgerOutput(page, many=True).data)
