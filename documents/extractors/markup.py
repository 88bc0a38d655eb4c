"""HTML (text only, lxml's HTML parser) and XML (defusedxml: no entity expansion, no DTDs)."""

from __future__ import annotations

import re

from documents.extractors.base import Extraction, ExtractionError, Limits, Rejected, TextCollector, clean_metadata

INVISIBLE = "//script|//style|//noscript|//template|//head"
BLANK_LINES = re.compile(r"\n\s*\n+")
SPACES = re.compile(r"[ \t\r\f\v]+")


def _tidy(text: str) -> str:
    lines = (SPACES.sub(" ", line).strip() for line in text.splitlines())
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def extract_html(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    import lxml.etree
    import lxml.html

    with open(path, "rb") as handle:
        data = handle.read()
    try:
        # lxml reads the charset from the document's <meta>; no network, no entity expansion.
        parser = lxml.html.HTMLParser(no_network=True, huge_tree=False, remove_comments=True)
        root = lxml.html.document_fromstring(data, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"The HTML could not be parsed ({exc}).") from None
    title = root.findtext(".//title") or ""
    meta = {}
    for element in root.iterfind(".//meta[@name]"):
        name = (element.get("name") or "").lower()
        if name in ("author", "description", "keywords", "generator"):
            meta[name] = element.get("content")
    extraction = Extraction(
        metadata=clean_metadata({"title": title, **meta, "links": len(root.findall(".//a[@href]"))})
    )
    if metadata_only:
        return extraction
    for element in root.xpath(INVISIBLE):
        element.drop_tree()
    collector = TextCollector(limits.max_text_chars)
    for block in root.iter("p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "br"):
        block.tail = "\n" + (block.tail or "")
    collector.add(_tidy(root.text_content()))
    return collector.finish(extraction)


def extract_xml(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, parse

    try:
        root = parse(path).getroot()
    except DefusedXmlException as exc:
        raise Rejected(f"The XML declares entities or a DTD, which are refused ({exc}).") from None
    except ParseError as exc:
        raise ExtractionError(f"The XML is not well-formed ({exc}).") from None
    tag = root.tag.split("}", 1)[-1]
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    elements = sum(1 for _ in root.iter())
    extraction = Extraction(
        metadata=clean_metadata({"root_element": tag, "namespace": namespace, "elements": elements})
    )
    if metadata_only:
        return extraction
    collector = TextCollector(limits.max_text_chars)
    for element in root.iter():
        if collector.full:
            collector.truncated = True
            break
        for piece in (element.text, element.tail):
            if piece and piece.strip():
                collector.add(piece.strip())
    return collector.finish(extraction)
