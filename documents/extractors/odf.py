"""ODT, ODS, ODP: ``content.xml`` and ``meta.xml`` read with defusedxml (odfpy is unmaintained).

The archive was checked for bombs before this runs; defusedxml refuses entity declarations.
"""

from __future__ import annotations

import zipfile

from documents.extractors.base import Extraction, ExtractionError, Limits, Rejected, TextCollector, clean_metadata

NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
}
PARAGRAPHS = {f"{{{NS['text']}}}p", f"{{{NS['text']}}}h"}
SPACE, TAB, LINE_BREAK = (f"{{{NS['text']}}}{name}" for name in ("s", "tab", "line-break"))


def _parse(archive: zipfile.ZipFile, name: str):
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        return fromstring(archive.read(name))
    except KeyError:
        return None
    except DefusedXmlException as exc:
        raise Rejected(f"{name} declares XML entities or a DTD, which are refused ({exc}).") from None
    except ParseError as exc:
        raise ExtractionError(f"{name} is not well-formed XML ({exc}).") from None


def _paragraph_text(element) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == SPACE:
            parts.append(" " * int(child.get(f"{{{NS['text']}}}c", "1") or 1))
        elif child.tag == TAB:
            parts.append("\t")
        elif child.tag == LINE_BREAK:
            parts.append("\n")
        else:
            parts.append(_paragraph_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _meta(root) -> dict:
    if root is None:
        return {}
    meta = root.find("office:meta", NS)
    if meta is None:
        return {}

    def text(path):
        node = meta.find(path, NS)
        return node.text if node is not None else None

    values = {
        "title": text("dc:title"),
        "author": text("meta:initial-creator") or text("dc:creator"),
        "last_modified_by": text("dc:creator"),
        "subject": text("dc:subject"),
        "created": text("meta:creation-date"),
        "modified": text("dc:date"),
        "generator": text("meta:generator"),
    }
    statistics = meta.find("meta:document-statistic", NS)
    if statistics is not None:
        for key in ("page-count", "table-count"):
            value = statistics.get(f"{{{NS['meta']}}}{key}")
            if value and value.isdigit():
                values[key.replace("-", "_")] = int(value)
    return clean_metadata(values)


def extract(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExtractionError(f"The OpenDocument file is not a readable archive ({exc}).") from None
    with archive:
        extraction = Extraction(metadata=_meta(_parse(archive, "meta.xml")))
        content = _parse(archive, "content.xml")
        if content is None:
            raise ExtractionError("The OpenDocument file has no content.xml.")
        sheets = content.findall(".//table:table", NS)
        pages = content.findall(".//draw:page", NS)
        if mime_type.endswith("spreadsheet"):
            names = [sheet.get(f"{{{NS['table']}}}name", "") for sheet in sheets]
            extraction.metadata.update(sheet_names=names, sheet_count=len(names))
            extraction.page_count = len(names)
        elif mime_type.endswith("presentation"):
            extraction.metadata["slide_count"] = len(pages)
            extraction.page_count = len(pages)
        else:
            extraction.page_count = extraction.metadata.get("page_count")
        if metadata_only:
            return extraction
        collector = TextCollector(limits.max_text_chars)
        body = content.find("office:body", NS)
        for element in (body if body is not None else content).iter():
            if collector.full:
                collector.truncated = True
                break
            if element.tag in PARAGRAPHS:
                collector.add(_paragraph_text(element))
        return collector.finish(extraction)
