"""Tesseract OCR through pytesseract; Debian's ``tesseract-ocr`` package provides the binary."""

from __future__ import annotations

from documents.extractors.base import ExtractionError

INSTALL_HINT = (
    "OCR needs Tesseract, which is not installed on this worker: run `make doctools` "
    "(Debian/Ubuntu: apt-get install tesseract-ocr), then reprocess the document."
)
# Tesseract has a hard limit on image side length; larger renderings are scaled down first.
MAX_SIDE = 32000


def require_tesseract() -> None:
    """Raise ExtractionError with install instructions when the tesseract binary is missing."""
    import pytesseract

    try:
        pytesseract.get_tesseract_version()
    except pytesseract.TesseractNotFoundError:
        raise ExtractionError(INSTALL_HINT) from None


def image_to_text(image, *, languages: str) -> str:
    import pytesseract

    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    if image.mode not in ("L", "RGB", "1"):
        image = image.convert("RGB")
    try:
        return pytesseract.image_to_string(image, lang=languages)
    except pytesseract.TesseractNotFoundError:
        raise ExtractionError(INSTALL_HINT) from None
    except pytesseract.TesseractError as exc:
        raise ExtractionError(f"Tesseract could not read the image: {exc.message or exc}") from None
