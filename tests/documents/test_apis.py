"""The documents API in process: upload limits and dedupe, lists and search, downloads, permissions."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from documents import services
from documents.errors import DocumentRejected
from documents.models import Batch, Document
from jobs.models import Job
from tests.documents import samples
from tests.documents.factories import receive

pytestmark = pytest.mark.django_db


def upload(client, *files):
    data = {"file": [SimpleUploadedFile(name, content) for name, content in files]}
    return client.post("/api/v1/documents", data, format="multipart")


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]


def test_one_file_is_one_document_with_its_job(staff_client, document_storage):
    response = upload(staff_client, ("report.pdf", samples.pdf_bytes()))
    assert response.status_code == 201
    body = response.json()
    assert body["batch"] is None
    [document] = body["documents"]
    assert document["original_name"] == "report.pdf" and document["status"] == "received"
    assert document["duplicate"] is False and document["uploaded_by"] == "staff"
    assert Job.objects.get(pk=document["job_id"]).actor_name == services.PROCESS_ACTOR


def test_the_same_bytes_twice_answer_with_the_existing_document_and_no_new_job(staff_client, document_storage):
    first = upload(staff_client, ("a.txt", samples.text_bytes())).json()["documents"][0]
    response = upload(staff_client, ("copy.txt", samples.text_bytes()))
    assert response.status_code == 200
    again = response.json()["documents"][0]
    assert again["id"] == first["id"] and again["duplicate"] is True and again["original_name"] == "a.txt"
    assert Document.objects.count() == 1 and Job.objects.count() == 1


def test_several_files_are_one_batch(staff_client, document_storage):
    response = upload(staff_client, ("a.csv", samples.csv_bytes()), ("b.md", samples.markdown_bytes()))
    assert response.status_code == 201
    body = response.json()
    assert body["batch"]["documents"] == 2 and body["batch"]["file_count"] == 2
    assert {d["batch_id"] for d in body["documents"]} == {body["batch"]["id"]}
    batch = staff_client.get(f"/api/v1/documents/batches/{body['batch']['id']}").json()
    assert batch["finished"] == 0 and batch["percent"] == 0.0 and batch["job_status"] in ("pending", "queued")


def test_a_file_over_the_limit_is_413_and_nothing_is_stored(staff_client, document_settings, document_storage):
    document_settings(MAX_UPLOAD_BYTES=100_000)
    response = upload(staff_client, ("big.txt", b"x" * 300_000))
    assert_error(response, 413, "payload_too_large")
    assert "100,000 bytes" in response.json()["error"]["message"]
    assert Document.objects.count() == 0
    assert not [p for p in document_storage.rglob("*") if p.is_file()]


def test_a_request_declaring_more_than_can_fit_is_413_before_reading(staff_client, document_settings):
    document_settings(MAX_UPLOAD_BYTES=1000, MAX_FILES_PER_UPLOAD=2)
    response = upload(staff_client, ("a.txt", b"y" * 200_000))
    assert_error(response, 413, "payload_too_large")


def test_the_limit_holds_with_session_auth_and_csrf(staff_user, document_settings, document_storage):
    document_settings(MAX_UPLOAD_BYTES=100_000)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = upload(client, ("big.txt", b"x" * 300_000))
    assert response.status_code in (403, 413)
    assert Document.objects.count() == 0


def test_an_upload_without_files_is_400(staff_client):
    assert_error(staff_client.post("/api/v1/documents", {}, format="multipart"), 400, "invalid")


def test_only_staff_upload_and_only_signed_in_users_read(reader_client, document_storage):
    assert_error(upload(reader_client, ("a.txt", b"hello")), 403, "permission_denied")
    assert reader_client.get("/api/v1/documents").status_code == 200
    anonymous = APIClient().get("/api/v1/documents")
    assert anonymous.status_code in (401, 403) and anonymous.json()["error"]["code"] == "not_authenticated"


def test_list_filters_and_search(staff_client, document_storage):
    markdown = receive(samples.markdown_bytes(), name="readme.md").document
    services.document_process(document_id=markdown.pk)
    empty = receive(b"", name="empty.txt").document
    with pytest.raises(DocumentRejected):
        services.document_process(document_id=empty.pk)
    listed = staff_client.get("/api/v1/documents").json()
    assert listed["count"] == 2
    assert [d["id"] for d in staff_client.get("/api/v1/documents?status=rejected").json()["results"]] == [empty.pk]
    by_type = staff_client.get("/api/v1/documents", {"type": "text/markdown"}).json()["results"]
    assert [d["id"] for d in by_type] == [markdown.pk]
    found = staff_client.get("/api/v1/documents", {"search": "quokka"}).json()["results"]
    assert [d["id"] for d in found] == [markdown.pk] and "<mark>" in found[0]["snippet"]
    assert staff_client.get("/api/v1/documents", {"search": "nonexistentword"}).json()["count"] == 0
    assert_error(staff_client.get("/api/v1/documents?status=bogus"), 400, "invalid")


def test_detail_and_text(staff_client, document_storage):
    document = receive(samples.eml_bytes(), name="mail.eml").document
    services.document_process(document_id=document.pk)
    detail = staff_client.get(f"/api/v1/documents/{document.pk}").json()
    assert detail["status"] == "processed" and detail["metadata"]["attachment_count"] == 1
    assert detail["mime_type"] == "message/rfc822" and detail["job_status"] in ("pending", "queued")
    text = staff_client.get(f"/api/v1/documents/{document.pk}/text").json()
    assert samples.phrase("eml") in text["text"] and text["characters"] == len(text["text"])
    assert_error(staff_client.get("/api/v1/documents/999999"), 404, "not_found")


def test_download_is_an_attachment_with_a_safe_name_and_nosniff(reader_client, document_storage):
    document = receive(b"<html><script>alert(1)</script></html>", name='../../evil "name"\r\n.html').document
    response = reader_client.get(f"/api/v1/documents/{document.pk}/download")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"<html><script>alert(1)</script></html>"
    assert response["Content-Disposition"] == 'attachment; filename="evil _name_.html"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert APIClient().get(f"/api/v1/documents/{document.pk}/download").status_code in (401, 403)


def test_reprocess_is_202_then_409_while_its_job_is_live(staff_client, reader_client, document_storage):
    document = receive(samples.csv_bytes(), name="a.csv").document
    Job.objects.filter(pk=document.job_id).update(status="succeeded")
    response = staff_client.post(f"/api/v1/documents/{document.pk}/reprocess", {}, format="json")
    assert response.status_code == 202 and response.json()["actor"] == services.PROCESS_ACTOR
    assert_error(
        staff_client.post(f"/api/v1/documents/{document.pk}/reprocess", {}, format="json"), 409, "invalid_transition"
    )
    Job.objects.filter(pk=response.json()["job_id"]).update(status="succeeded")
    metadata = staff_client.post(f"/api/v1/documents/{document.pk}/reprocess", {"metadata_only": True}, format="json")
    assert metadata.status_code == 202 and metadata.json()["actor"] == services.METADATA_ACTOR
    assert reader_client.post(f"/api/v1/documents/{document.pk}/reprocess", {}, format="json").status_code == 403


def test_batches_and_ledger_lists(staff_client, document_storage):
    upload(staff_client, ("a.csv", samples.csv_bytes()), ("b.json", samples.json_bytes()))
    batches = staff_client.get("/api/v1/documents/batches").json()
    assert batches["count"] == 1 == Batch.objects.count()
    assert staff_client.get("/api/v1/documents/batches/not-a-uuid").status_code == 404
    assert staff_client.get("/api/v1/documents/ledger").json()["count"] == 0


def test_the_schema_documents_the_endpoints(staff_client):
    schema = staff_client.get("/api/schema/?format=json").json()
    assert "/api/v1/documents" in schema["paths"]
    assert "/api/v1/documents/{document_id}/download" in schema["paths"]


def test_lists_are_documented_as_the_numbered_pages_they_answer(staff_client, document_storage):
    upload(staff_client, ("a.txt", b"one\n"))
    body = staff_client.get("/api/v1/documents", {"page_size": 1}).json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 1
    schema = staff_client.get("/api/schema/?format=json").json()
    for path, page in [
        ("/api/v1/documents", "DocumentPageOutput"),
        ("/api/v1/documents/batches", "BatchPageOutput"),
        ("/api/v1/documents/ledger", "LedgerPageOutput"),
    ]:
        answer = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": f"#/components/schemas/{page}"}, path
    assert schema["components"]["schemas"]["DocumentUploadInputRequest"]["required"] == ["file"]


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/api/v1/documents", {"page": 99}, 404),
        ("/api/v1/documents", {"page_size": 201}, 400),
        ("/api/v1/documents", {"status": ""}, 400),
        ("/api/v1/documents", {"created_after": "2024-01-01T00:00:00"}, 400),  # no zone
        ("/api/v1/documents/batches", {"page": 0}, 400),
        ("/api/v1/documents/ledger", {"state": "sideways"}, 400),
    ],
)
def test_bad_list_parameters_are_refused_in_the_error_shape(reader_client, path, query, status):
    response = reader_client.get(path, query)
    assert response.status_code == status, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}
