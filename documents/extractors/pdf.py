"""PDF: text with pypdfium2, metadata with pypdf; a PDF without a text layer goes to OCR."""

from __future__ import annotations

import math

from documents.extractors.base import Extraction, ExtractionError, Limits, TextCollector, clean_metadata
from documents.extractors.ocr import image_to_text, require_tesseract

INFO_FIELDS = {
    "title": "title",
    "author": "author",
    "subject": "subject",
    "creator": "creator",
    "producer": "producer",
    "creation_date": "created",
    "modification_date": "modified",
}


def _open(path: str):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        message = str(exc)
        if "password" in message.lower():
            raise ExtractionError("The PDF is encrypted with a password; it cannot be read.") from None
        raise ExtractionError(f"The PDF is corrupt or truncated ({message}).") from None


def _pypdf_metadata(path: str) -> dict:
    """Document information through pypdf; a damaged info dictionary costs only the metadata."""
    import pypdf

    try:
        reader = pypdf.PdfReader(path, strict=False)
        info = reader.metadata or {}
        values = {}
        for attribute, name in INFO_FIELDS.items():
            try:
                values[name] = getattr(info, attribute, None)
            except MemoryError:
                raise
            except Exception:  # a date in a format pypdf refuses
                values[name] = None
        values["pdf_version"] = reader.pdf_header.replace("%PDF-", "")
        return clean_metadata(values)
    except MemoryError:
        raise
    except Exception as exc:  # pypdf's errors are many; pdfium already read the pages
        return {"metadata_error": f"{type(exc).__name__}: {exc}"[:300]}


def extract(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    pdf = _open(path)
    try:
        extraction = Extraction(metadata=_pypdf_metadata(path), page_count=len(pdf))
        if metadata_only:
            return extraction
        collector = TextCollector(limits.max_text_chars)
        for index in range(len(pdf)):
            if collector.full:
                collector.truncated = True
                break
            try:
                page = pdf[index]
                textpage = page.get_textpage()
                collector.add(textpage.get_text_bounded())
                textpage.close()
                page.close()
            except MemoryError:
                raise
            except Exception as exc:
                extraction.failed_parts.append(f"page {index + 1}: {exc}")
        if not collector.text() and len(pdf) > 0:
            _ocr(pdf, extraction, collector, limits)
        return collector.finish(extraction)
    finally:
        pdf.close()


def _ocr(pdf, extraction: Extraction, collector: TextCollector, limits: Limits) -> None:
    """Renders each page and reads it with Tesseract (a scanned PDF has no text layer)."""
    require_tesseract()
    scale = limits.ocr_dpi / 72
    pages = min(len(pdf), limits.ocr_max_pages)
    for index in range(pages):
        try:
            page = pdf[index]
            width, height = page.get_size()
            # A huge page is rendered smaller rather than refused: the pixel limit holds either way.
            page_scale = min(scale, math.sqrt(limits.max_image_pixels / max(width * height, 1)))
            image = page.render(scale=page_scale, grayscale=True).to_pil()
            collector.add(image_to_text(image, languages=limits.ocr_languages))
            page.close()
        except ExtractionError:
            raise
        except MemoryError:
            raise
        except Exception as exc:
            extraction.failed_parts.append(f"page {index + 1} (OCR): {exc}")
    if len(pdf) > pages:
        extraction.failed_parts.append(f"pages {pages + 1}-{len(pdf)}: over the OCR page limit of {pages}")
    extraction.metadata["ocr"] = True
    extraction.metadata["ocr_languages"] = limits.ocr_languages
