"""EML through the standard library's ``email`` (policy.default): headers, body, attachments listed."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from documents.extractors.base import Extraction, ExtractionError, Limits, TextCollector, clean_metadata

HEADERS = ("subject", "from", "to", "cc", "date", "message-id", "in-reply-to")


def _header(message, name: str) -> str:
    try:
        value = message.get(name)
    except MemoryError:
        raise
    except Exception:  # a malformed header is skipped, not fatal
        return ""
    return str(value) if value is not None else ""


def _created(message) -> str | None:
    try:
        return parsedate_to_datetime(_header(message, "date")).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _html_to_text(html: str) -> str:
    import lxml.html

    try:
        root = lxml.html.document_fromstring(html)
    except MemoryError:
        raise
    except Exception:
        return html
    for element in root.xpath("//script|//style|//head"):
        element.drop_tree()
    return root.text_content()


def extract(path: str, *, mime_type: str, limits: Limits, metadata_only: bool = False) -> Extraction:
    with open(path, "rb") as handle:
        try:
            message = BytesParser(policy=policy.default).parse(handle)
        except MemoryError:
            raise
        except Exception as exc:
            raise ExtractionError(f"The email could not be parsed ({type(exc).__name__}: {exc}).") from None
    headers = {name: _header(message, name) for name in HEADERS}
    if not (headers["from"] or headers["subject"] or headers["to"]):
        raise ExtractionError("The file has no email headers (From, To or Subject).")
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append(
            {"filename": part.get_filename() or "", "content_type": part.get_content_type(), "size": len(payload)}
        )
    metadata = clean_metadata(
        {
            "title": headers["subject"],
            "author": headers["from"],
            "created": _created(message),
            "email_headers": {name: value for name, value in headers.items() if value},
            "attachments": attachments,
        }
    )
    metadata["attachment_count"] = len(attachments)
    extraction = Extraction(metadata=metadata)
    if metadata_only:
        return extraction
    collector = TextCollector(limits.max_text_chars)
    for name in ("subject", "from", "to", "date"):
        if headers[name]:
            collector.add(f"{name.title()}: {headers[name]}")
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        try:
            content = body.get_content()
        except (LookupError, ValueError) as exc:  # an unknown charset or a broken transfer encoding
            extraction.failed_parts.append(f"body: {exc}")
            content = ""
        collector.add(_html_to_text(content) if body.get_content_type() == "text/html" else content)
    return collector.finish(extraction)
