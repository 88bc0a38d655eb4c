"""Type detection from the content: libmagic (python-magic), then a look inside ZIP containers.

libmagic tells a ZIP from a PDF but not always a DOCX from an XLSX; the ZIP directory does
(``word/``, ``xl/``, ``ppt/``; ODF's ``mimetype`` member). Among textual types, where libmagic
cannot know (Markdown, CSV, TSV, JSON), the extension's claim decides; it never turns binary
content into a text format.
"""

from __future__ import annotations

import mimetypes
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from documents.extractors import DOCX, ODP, ODS, ODT, PPTX, XLSX

OOXML_MARKERS = (("word/document.xml", DOCX), ("xl/workbook.xml", XLSX), ("ppt/presentation.xml", PPTX))
ODF_TYPES = {ODT, ODS, ODP}
# libmagic's names for types we know under one name.
ALIASES = {
    "application/rtf": "text/rtf",
    "application/xml": "text/xml",
    "text/x-tex": "text/plain",
    "text/x-c": "text/plain",
    "text/x-script.python": "text/plain",
    "text/x-makefile": "text/plain",
    "application/csv": "text/csv",
    "application/xhtml+xml": "text/html",
    "text/x-mail": "message/rfc822",
}
EXTENSION_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".tab": "text/tab-separated-values",
    ".json": "application/json",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".log": "text/plain",
    ".eml": "message/rfc822",
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "text/xml",
    ".rtf": "text/rtf",
}
# What the extension may choose between when the content is text.
TEXT_FAMILY = {
    "text/plain",
    "text/csv",
    "text/tab-separated-values",
    "text/markdown",
    "application/json",
    "message/rfc822",
    "text/html",
    "text/xml",
}
ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/octet-stream"} | {
    DOCX,
    XLSX,
    PPTX,
    ODT,
    ODS,
    ODP,
}
ENCRYPTED_TYPES = {"application/encrypted", "application/x-ole-storage", "application/CDFV2"}


@dataclass(frozen=True)
class Detected:
    mime_type: str
    claimed_type: str
    libmagic_type: str
    description: str


def claimed_type(original_name: str) -> str:
    """The MIME type the file name's extension claims ("" when it claims nothing known)."""
    suffix = PurePath(original_name.replace("\\", "/")).suffix.lower()
    return EXTENSION_TYPES.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or ""


def zip_container_type(path: str) -> str | None:
    """DOCX/XLSX/PPTX/ODT/ODS/ODP from the ZIP directory, or None for another ZIP (or a broken one)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for marker, mime in OOXML_MARKERS:
                if marker in names:
                    return mime
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size <= 200:
                    declared = archive.read("mimetype").decode("ascii", "replace").strip()
                    if declared in ODF_TYPES:
                        return declared
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, NotImplementedError):
        return None
    return None


def detect(path: str, original_name: str) -> Detected:
    import magic

    libmagic_type = magic.from_file(path, mime=True)
    description = magic.from_file(path)
    mime = ALIASES.get(libmagic_type, libmagic_type)
    claim = claimed_type(original_name)
    if mime in ZIP_TYPES and zipfile.is_zipfile(path):
        mime = zip_container_type(path) or "application/zip"
    elif mime.startswith("text/") or mime in TEXT_FAMILY:
        if claim in TEXT_FAMILY and mime in ("text/plain", "text/csv", "application/json"):
            mime = claim
        elif mime == "text/plain" and _looks_like_email(path):
            mime = "message/rfc822"
    return Detected(mime_type=mime, claimed_type=claim, libmagic_type=libmagic_type, description=description[:300])


def _looks_like_email(path: str) -> bool:
    """A header block with From and (To or Subject) before the first blank line."""
    with open(path, "rb") as handle:
        head = handle.read(16384).decode("latin-1")
    names = set()
    for line in head.splitlines():
        if not line.strip():
            break
        if line[:1] in " \t":
            continue
        name, sep, _ = line.partition(":")
        if not sep or " " in name:
            return False
        names.add(name.lower())
    return "from" in names and bool(names & {"to", "subject"})
