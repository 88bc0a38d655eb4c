"""RTF through striprtf, with a size limit: it takes minutes on large files (its PR #72)."""

from __future__ import annotations

import os
import re

from documents.extractors.base import Extraction, ExtractionError, Limits, Rejected, TextCollector, clean_metadata

INFO_FIELDS = {"title": "title", "author": "author", "subject": "subject", "operator": "last_modified_by"}
INFO_DATES = {"creatim": "created", "revtim": "modified"}


def _info(source: str) -> dict:
    """The ``{\\info …}`` group: title, author, subject and the creation and revision times."""
    values = {}
    for keyword, name in INFO_FIELDS.items():
        match = re.search(r"\{\\" + keyword + r"\s+([^{}]*)\}", source)
        if match:
            values[name] = match.group(1)
    for keyword, name in INFO_DATES.items():
        match = re.search(r"\{\\" + keyword + r"((?:\\[a-z]+\d+)+)\}", source)
        if match:
            parts = dict(re.findall(r"\\(yr|mo|dy|hr|min)(\d+)", match.group(1)))
            if "yr" in parts:
                values[name] = (
                    f"{int(parts['yr']):04d}-{int(parts.get('mo', 1)):02d}-{int(parts.get('dy', 1)):02d}"
                    f"T{int(parts.get('hr', 0)):02d}:{int(parts.get('min', 0)):02d}:00"
                )
    return clean_metadata(values)


def extract(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    from striprtf.striprtf import rtf_to_text

    size = os.path.getsize(path)
    if size > limits.rtf_max_bytes:
        raise Rejected(
            f"The RTF file has {size:,} bytes; RTF is parsed up to {limits.rtf_max_bytes:,} bytes "
            "(the RTF parser is slow on large files)."
        )
    with open(path, "rb") as handle:
        source = handle.read().decode("latin-1")  # RTF is 7-bit; escapes carry the rest
    if not source.lstrip().startswith("{\\rtf"):
        raise ExtractionError("The file does not start with an RTF header ({\\rtf).")
    extraction = Extraction(metadata=_info(source))
    if metadata_only:
        return extraction
    try:
        text = rtf_to_text(source, errors="replace")
    except Exception as exc:
        raise ExtractionError(f"The RTF file could not be parsed ({type(exc).__name__}: {exc}).") from None
    collector = TextCollector(limits.max_text_chars)
    collector.add(text)
    return collector.finish(extraction)
