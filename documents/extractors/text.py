"""Plain text in any encoding (charset-normalizer) and Markdown (markdown-it-py, syntax removed)."""

from __future__ import annotations

import codecs

from documents.extractors.base import Extraction, ExtractionError, Limits, TextCollector

BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def read_text(path: str, limits: Limits) -> tuple[str, str]:
    """The file's text and its encoding: UTF-8 or a BOM first (fast), charset-normalizer otherwise."""
    # Text beyond the cap is never kept; four bytes per character bound what is worth reading.
    with open(path, "rb") as handle:
        data = handle.read(limits.max_text_chars * 4 + 4)
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ExtractionError("The file is not text in any encoding that could be recognised.")
    return str(best), best.encoding


def extract_plain(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    text, encoding = read_text(path, limits)
    extraction = Extraction(metadata={"encoding": encoding, "lines": text.count("\n") + (1 if text else 0)})
    if metadata_only:
        return extraction
    collector = TextCollector(limits.max_text_chars)
    collector.add(text)
    return collector.finish(extraction)


def extract_markdown(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    from markdown_it import MarkdownIt

    source, encoding = read_text(path, limits)
    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    title = ""
    headings = links = 0
    collector = TextCollector(limits.max_text_chars)
    in_heading = False
    for token in tokens:
        if token.type == "heading_open":
            headings += 1
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type in ("fence", "code_block"):
            collector.add(token.content.rstrip("\n"))
        elif token.type == "inline":
            pieces = []
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    pieces.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    pieces.append("\n")
                elif child.type == "link_open":
                    links += 1
                elif child.type == "image":
                    pieces.append(child.content)
            line = "".join(pieces)
            if in_heading and not title:
                title = line.strip()
            collector.add(line)
    extraction = Extraction(metadata={"encoding": encoding, "headings": headings, "links": links})
    if title:
        extraction.metadata["title"] = title[:500]
    if metadata_only:
        return extraction
    return collector.finish(extraction)
