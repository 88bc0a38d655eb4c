"""Dashboard pages: every page renders for a reader, uploads and reprocessing are for staff."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from documents import services
from documents.models import Document, WatchedFile
from jobs import registry
from jobs.models import Job
from tests.documents import samples
from tests.documents.factories import receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def processed(document_storage):
    document = receive(samples.html_bytes(), name="page.html").document
    services.document_process(document_id=document.pk)
    return document


def test_pages_render_for_a_reader(reader_browser, processed):
    WatchedFile.objects.create(folder="/in", path="a.pdf", state="waiting", reason="Waiting for the file to settle.")
    listing = reader_browser.get("/documents/")
    assert listing.status_code == 200 and b"page.html" in listing.content
    assert b'type="file"' not in listing.content  # the upload form is for staff
    detail = reader_browser.get(f"/documents/{processed.pk}/")
    assert detail.status_code == 200 and samples.phrase("html").encode() in detail.content
    assert b"Reprocess" not in detail.content
    assert reader_browser.get("/documents/batches/").status_code == 200
    ledger = reader_browser.get("/documents/ledger/")
    assert ledger.status_code == 200 and b"Waiting for the file to settle." in ledger.content
    assert reader_browser.get("/documents/999999/").status_code == 404


def test_search_on_the_page_highlights_matches(reader_browser, processed):
    response = reader_browser.get("/documents/", {"q": "quokka"})
    assert b"<mark>" in response.content and b"page.html" in response.content
    assert b"page.html" not in reader_browser.get("/documents/", {"q": "absentword"}).content


def test_pages_need_a_login():
    response = Client().get("/documents/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_staff_upload_one_file_and_several(staff_browser, document_storage):
    one = staff_browser.post("/documents/upload", {"file": SimpleUploadedFile("a.csv", samples.csv_bytes())})
    document = Document.objects.get()
    assert one.status_code == 302 and one["Location"] == f"/documents/{document.pk}/"
    many = staff_browser.post(
        "/documents/upload",
        {
            "file": [
                SimpleUploadedFile("b.json", samples.json_bytes()),
                SimpleUploadedFile("c.md", samples.markdown_bytes()),
            ]
        },
    )
    assert many.status_code == 302 and "/documents/batches/" in many["Location"]
    batch_page = staff_browser.get(many["Location"])
    assert b"0 of 2 documents finished" in batch_page.content
    assert staff_browser.get(many["Location"] + "?partial=1").status_code == 200


def test_a_reader_cannot_upload(reader_browser, document_storage):
    response = reader_browser.post("/documents/upload", {"file": SimpleUploadedFile("a.csv", samples.csv_bytes())})
    assert response.status_code == 403 and Document.objects.count() == 0


def test_the_upload_form_checks_csrf_and_the_size_limit(staff_user, document_settings):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff_user)
    response = browser.post("/documents/upload", {"file": SimpleUploadedFile("a.csv", samples.csv_bytes())})
    assert response.status_code == 403 and Document.objects.count() == 0
    document_settings(MAX_UPLOAD_BYTES=1000)
    plain = Client()
    plain.force_login(staff_user)
    too_big = plain.post("/documents/upload", {"file": SimpleUploadedFile("a.txt", b"x" * 5000)}, follow=True)
    assert b"larger than the limit" in too_big.content and Document.objects.count() == 0


def test_staff_reprocess_from_the_page(staff_browser, processed):
    response = staff_browser.post(f"/documents/{processed.pk}/reprocess", follow=True)
    assert b"being processed" in response.content or b"will be processed again" in response.content


def test_the_list_page_reads_a_fixed_number_of_queries(reader_browser, document_storage, django_assert_max_num_queries):
    for index in range(3):
        receive(f"document {index}\n".encode(), name=f"d{index}.txt")
    with django_assert_max_num_queries(8) as few:
        reader_browser.get("/documents/")
    for index in range(3, 30):
        receive(f"document {index}\n".encode(), name=f"d{index}.txt")
    with django_assert_max_num_queries(len(few.captured_queries)):
        reader_browser.get("/documents/")


INLINE_HANDLER = re.compile(rb"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def test_pages_highlight_documents_name_the_time_zone_and_are_not_cached(staff_browser, processed):
    batch = services.documents_upload(files=[(io.BytesIO(b"a\n"), "a.txt"), (io.BytesIO(b"b\n"), "b.txt")]).batch
    urls = ["/documents/", f"/documents/{processed.pk}/", "/documents/batches/", f"/documents/batches/{batch.pk}/"]
    for url in [*urls, "/documents/ledger/"]:
        response = staff_browser.get(url)
        html = response.content.decode()
        assert response.status_code == 200, url
        assert re.findall(r'<a href="[^"]*" class="here">([^<]*)</a>', html) == ["Documents"], url
        assert "no-store" in response["Cache-Control"], url
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        assert not INLINE_HANDLER.search(response.content), url  # the CSP refuses inline handlers
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", staff_browser.get(urls[1]).content.decode())
    assert "Received (UTC)" in staff_browser.get(urls[0]).content.decode()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", staff_browser.get(urls[2]).content.decode())


def test_the_api_is_not_cached(reader_client, processed):
    for url in ("/api/v1/documents", f"/api/v1/documents/{processed.pk}", "/api/v1/documents/ledger"):
        response = reader_client.get(url)
        assert response.status_code == 200 and "no-store" in response["Cache-Control"], url


def test_the_documents_actors_are_internal(staff_client, processed):
    names = [
        services.PROCESS_ACTOR,
        services.BATCH_ACTOR,
        services.METADATA_ACTOR,
        "documents.cleanup_old_processed_files",
    ]
    assert all(registry.get_spec(name).internal for name in names)
    before = Job.objects.count()
    for name in names:
        response = staff_client.post("/api/v1/jobs", {"actor": name, "kwargs": {}}, format="json")
        assert response.status_code == 400, response.content
    assert Job.objects.count() == before
