"""Extractors by detected MIME type: one module per format family, each on a well-kept library.

``EXTRACTORS`` maps a MIME type to "module:function"; modules are imported on first use in the
isolated child, so a worker only pays for the parsers it needs.
"""

from __future__ import annotations

from importlib import import_module

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"

EXTRACTORS = {
    "application/pdf": "pdf:extract",
    DOCX: "office:extract_docx",
    XLSX: "office:extract_xlsx",
    PPTX: "office:extract_pptx",
    ODT: "odf:extract",
    ODS: "odf:extract",
    ODP: "odf:extract",
    "text/rtf": "rtf:extract",
    "text/html": "markup:extract_html",
    "text/xml": "markup:extract_xml",
    "application/json": "data:extract_json",
    "text/csv": "data:extract_csv",
    "text/tab-separated-values": "data:extract_csv",
    "text/markdown": "text:extract_markdown",
    "text/plain": "text:extract_plain",
    "message/rfc822": "mail:extract",
    "image/png": "images:extract",
    "image/jpeg": "images:extract",
    "image/tiff": "images:extract",
}

# Formats whose text comes from Tesseract.
OCR_TYPES = frozenset({"image/png", "image/jpeg", "image/tiff"})


def is_supported(mime_type: str) -> bool:
    return mime_type in EXTRACTORS


def get_extractor(mime_type: str):
    """The extract function for a MIME type (``KeyError`` for an unsupported type)."""
    module_name, function_name = EXTRACTORS[mime_type].split(":")
    return getattr(import_module(f"documents.extractors.{module_name}"), function_name)
