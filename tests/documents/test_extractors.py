"""Each format's extractor on a real file made in the test, and the detection that routes to it."""

import pytest

from documents import detection
from documents.extractors import get_extractor, is_supported
from documents.extractors.base import ExtractionError, Limits, Rejected, TextCollector
from tests.documents import samples
from tests.documents.conftest import needs_tesseract


def write(tmp_path, name, data):
    # Stored files have no extension: extractors must not depend on one (detection gets the name apart).
    path = tmp_path / f"stored-{abs(hash(name))}"
    path.write_bytes(data)
    return str(path)


def extract(path, mime, **limits):
    return get_extractor(mime)(path, mime_type=mime, limits=Limits(**limits))


@pytest.mark.parametrize(
    ("name", "make", "mime", "kind", "metadata"), samples.FORMATS, ids=[f[0] for f in samples.FORMATS]
)
def test_each_format_is_detected_from_its_content_and_its_text_and_metadata_extracted(
    tmp_path, name, make, mime, kind, metadata
):
    path = write(tmp_path, name, make())
    detected = detection.detect(path, name)
    assert detected.mime_type == mime
    extraction = extract(path, mime)
    assert samples.phrase(kind) in extraction.text
    for key, value in metadata.items():
        assert extraction.metadata.get(key) == value, key


def test_there_are_at_least_fifteen_formats():
    mimes = {f[2] for f in samples.FORMATS} | {f[2] for f in samples.IMAGE_FORMATS}
    assert len(mimes) >= 15 and all(is_supported(m) for m in mimes)


@pytest.mark.parametrize("name", ["letter.docx", "sheet.xlsx", "deck.pptx", "notes.odt", "stock.ods"])
def test_office_types_come_from_the_zip_directory_not_the_extension(tmp_path, name):
    make, mime = next((f[1], f[2]) for f in samples.FORMATS if f[0] == name)
    path = write(tmp_path, "renamed.zip", make())
    detected = detection.detect(path, "renamed.zip")
    assert detected.mime_type == mime
    assert detected.claimed_type == "application/zip"


def test_an_extension_never_turns_binary_content_into_text(tmp_path):
    path = write(tmp_path, "fake.txt", samples.pdf_bytes())
    assert detection.detect(path, "fake.txt").mime_type == "application/pdf"


RUSSIAN = "Съешь же ещё этих мягких французских булок, да выпей чаю. Широкая электрификация южных губерний."


@pytest.mark.parametrize(("encoding", "text"), [("cp1251", RUSSIAN), ("utf-16", samples.phrase("utf16") + " déjà vu")])
def test_plain_text_in_another_encoding_is_decoded(tmp_path, encoding, text):
    path = write(tmp_path, "other.txt", ((text + "\n") * 20).encode(encoding))
    extraction = extract(path, "text/plain")
    assert text in extraction.text
    assert extraction.metadata["encoding"] != "utf-8"


def test_html_text_leaves_scripts_and_styles_out(tmp_path):
    extraction = extract(write(tmp_path, "p.html", samples.html_bytes()), "text/html")
    assert "scriptsecret" not in extraction.text and "color: red" not in extraction.text
    assert "café & more" in extraction.text


def test_email_attachments_are_listed(tmp_path):
    extraction = extract(write(tmp_path, "m.eml", samples.eml_bytes()), "message/rfc822")
    assert extraction.metadata["attachments"] == [
        {"filename": "data.bin", "content_type": "application/octet-stream", "size": 14}
    ]
    assert extraction.metadata["email_headers"]["to"].startswith("Charles Babbage")


def test_a_multi_page_pdf_counts_its_pages(tmp_path):
    extraction = extract(write(tmp_path, "p.pdf", samples.pdf_bytes(pages=3)), "application/pdf")
    assert extraction.page_count == 3
    assert "page 3" in extraction.text


def test_a_truncated_pdf_fails_with_a_reason(tmp_path):
    with pytest.raises(ExtractionError, match="corrupt or truncated"):
        extract(write(tmp_path, "bad.pdf", samples.corrupt_pdf()), "application/pdf")


def test_xml_with_entity_declarations_is_rejected(tmp_path):
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    with pytest.raises(Rejected, match="entities or a DTD"):
        extract(write(tmp_path, "bomb.xml", bomb), "text/xml")


def test_an_image_over_the_pixel_limit_is_rejected_before_decoding(tmp_path):
    path = write(tmp_path, "big.png", samples.image_over_pixel_limit(2000))
    with pytest.raises(Rejected, match="pixel"):
        extract(path, "image/png", max_image_pixels=1_000_000)


def test_a_large_rtf_is_rejected_rather_than_parsed_for_minutes(tmp_path):
    path = write(tmp_path, "big.rtf", samples.rtf_bytes() + b" " * 2048)
    with pytest.raises(Rejected, match="RTF"):
        extract(path, "text/rtf", rtf_max_bytes=1024)


def test_text_output_is_capped_and_the_cap_recorded(tmp_path):
    path = write(tmp_path, "long.txt", b"word " * 10_000)
    extraction = extract(path, "text/plain", max_text_chars=1000)
    assert len(extraction.text) <= 1000
    assert extraction.metadata["text_truncated_at"] == 1000


def test_the_text_collector_stops_at_its_limit():
    collector = TextCollector(10)
    collector.add("12345")
    collector.add("67890abc")
    assert collector.truncated and collector.full
    assert len(collector.text()) <= 11


@needs_tesseract
@pytest.mark.parametrize(
    ("name", "make", "mime", "metadata"), samples.IMAGE_FORMATS, ids=[f[0] for f in samples.IMAGE_FORMATS]
)
def test_images_are_read_with_tesseract(tmp_path, name, make, mime, metadata):
    path = write(tmp_path, name, make())
    assert detection.detect(path, name).mime_type == mime
    extraction = extract(path, mime)
    assert samples.OCR_TEXT in extraction.text
    assert extraction.metadata["ocr"] is True
    for key, value in metadata.items():
        assert extraction.metadata[key] == value


@needs_tesseract
def test_a_pdf_without_a_text_layer_goes_to_ocr(tmp_path):
    extraction = extract(write(tmp_path, "scan.pdf", samples.scanned_pdf_bytes()), "application/pdf")
    assert samples.OCR_TEXT in extraction.text
    assert extraction.metadata["ocr"] is True


def test_without_tesseract_ocr_fails_saying_how_to_install_it(tmp_path, monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", str(tmp_path / "no-tesseract"))
    with pytest.raises(ExtractionError, match="make doctools"):
        extract(write(tmp_path, "scan.png", samples.png_bytes()), "image/png")
