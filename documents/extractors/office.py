"""OOXML: DOCX (python-docx), XLSX (openpyxl, read-only), PPTX (python-pptx).

Archives were checked for bombs before this runs (``documents.guards``); defusedxml is installed,
which openpyxl uses against entity expansion.
"""

from __future__ import annotations

import zipfile

from documents.extractors.base import Extraction, ExtractionError, Limits, TextCollector, clean_metadata


def _core_properties(props) -> dict:
    return clean_metadata(
        {
            "title": props.title,
            "author": props.author,
            "subject": props.subject,
            "keywords": props.keywords,
            "last_modified_by": props.last_modified_by,
            "created": props.created,
            "modified": props.modified,
        }
    )


def _failed(kind: str, exc: Exception) -> ExtractionError:
    return ExtractionError(f"The {kind} file is damaged or not a valid {kind} ({type(exc).__name__}: {exc}).")


def extract_docx(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(path)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, SyntaxError) as exc:
        raise _failed("DOCX", exc) from None
    extraction = Extraction(metadata=_core_properties(document.core_properties))
    extraction.metadata["tables"] = len(document.tables)
    extraction.metadata["paragraphs"] = len(document.paragraphs)
    if metadata_only:
        return extraction
    collector = TextCollector(limits.max_text_chars)
    for paragraph in document.paragraphs:
        collector.add(paragraph.text)
    for table in document.tables:
        for row in table.rows:
            collector.add("\t".join(cell.text for cell in row.cells))
    for section in document.sections:
        for part in (section.header, section.footer):
            if part is not None and not part.is_linked_to_previous:
                for paragraph in part.paragraphs:
                    collector.add(paragraph.text)
    return collector.finish(extraction)


def extract_xlsx(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    import openpyxl

    # A file object, not the path: openpyxl judges a path by its extension, and stored files have none.
    handle = open(path, "rb")
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError) as exc:
        handle.close()
        raise _failed("XLSX", exc) from None
    try:
        props = workbook.properties
        metadata = clean_metadata(
            {
                "title": props.title,
                "author": props.creator,
                "subject": props.subject,
                "last_modified_by": props.lastModifiedBy,
                "created": props.created,
                "modified": props.modified,
            }
        )
        metadata["sheet_names"] = list(workbook.sheetnames)
        metadata["sheet_count"] = len(workbook.sheetnames)
        extraction = Extraction(metadata=metadata, page_count=len(workbook.sheetnames))
        if metadata_only:
            return extraction
        collector = TextCollector(limits.max_text_chars)
        rows = 0
        for sheet in workbook.worksheets:
            collector.add(f"# {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                if collector.full:
                    collector.truncated = True
                    break
                cells = ["" if value is None else str(value) for value in row]
                if any(cells):
                    rows += 1
                    collector.add("\t".join(cells).rstrip("\t"))
        extraction.metadata["rows"] = rows
        return collector.finish(extraction)
    finally:
        workbook.close()
        handle.close()


def extract_pptx(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    import pptx
    from pptx.exc import PackageNotFoundError

    try:
        presentation = pptx.Presentation(path)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, SyntaxError) as exc:
        raise _failed("PPTX", exc) from None
    slides = list(presentation.slides)
    extraction = Extraction(metadata=_core_properties(presentation.core_properties), page_count=len(slides))
    extraction.metadata["slide_count"] = len(slides)
    if metadata_only:
        return extraction
    collector = TextCollector(limits.max_text_chars)
    for number, slide in enumerate(slides, start=1):
        collector.add(f"# Slide {number}")
        for shape in slide.shapes:
            if shape.has_text_frame:
                collector.add(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    collector.add("\t".join(cell.text for cell in row.cells))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            collector.add(slide.notes_slide.notes_text_frame.text)
    return collector.finish(extraction)
