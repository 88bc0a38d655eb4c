"""What every extractor shares: its result, its errors, its limits, and a capped text buffer.

Extractors run in the isolated child process (``documents.isolation``) and import nothing of Django.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


class ExtractionError(Exception):
    """A file that cannot be read as what it claims to be (truncated, encrypted, malformed): failed."""


class Rejected(Exception):
    """A file refused by policy before or while parsing (a bomb, over a limit, unsupported): rejected."""


@dataclass(frozen=True)
class Limits:
    max_text_chars: int = 2_000_000
    max_image_pixels: int = 89_478_485
    rtf_max_bytes: int = 5 * 1024 * 1024
    ocr_languages: str = "eng"
    ocr_max_pages: int = 20
    ocr_dpi: int = 200

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Limits:
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        return cls(**known)


@dataclass
class Extraction:
    """Text and metadata of one file; ``failed_parts`` names pages or parts that could not be read."""

    text: str = ""
    metadata: dict = field(default_factory=dict)
    page_count: int | None = None
    failed_parts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class TextCollector:
    """Collects text up to a character cap; past it, further parts are dropped and ``truncated`` is set."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    @property
    def full(self) -> bool:
        return self.size >= self.limit

    def add(self, text: str | None) -> None:
        if not text:
            return
        room = self.limit - self.size
        if room <= 0:
            self.truncated = True
            return
        if len(text) > room:
            text = text[:room]
            self.truncated = True
        self.parts.append(text)
        self.size += len(text) + 1

    def text(self) -> str:
        return "\n".join(self.parts).strip()

    def finish(self, extraction: Extraction) -> Extraction:
        extraction.text = self.text()
        if self.truncated:
            extraction.metadata["text_truncated_at"] = self.limit
        return extraction


def clean_metadata(values: dict) -> dict:
    """Drops empty values and turns dates and other objects into JSON-friendly strings."""
    cleaned = {}
    for key, value in values.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif not isinstance(value, (str, int, float, bool, list, dict)):
            value = str(value)
        if isinstance(value, str):
            value = value.strip()[:1000]
            if not value:
                continue
        cleaned[key] = value
    return cleaned
