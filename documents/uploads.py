"""Upload size limits enforced while the body streams in: 413 before a byte past the limit is stored.

The handler goes first in the request's upload handlers (before authentication reads the body for
the CSRF check), counts each file's bytes and stops the upload as soon as one passes the limit.
"""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from documents.storage import size_limit_message
from jobs.errors import PayloadTooLarge

# Multipart framing around each file (boundaries, part headers) on top of its bytes.
PART_OVERHEAD = 64 * 1024
UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def max_file_bytes() -> int:
    return settings.DOCUMENTS["MAX_UPLOAD_BYTES"]


def max_files() -> int:
    return settings.DOCUMENTS["MAX_FILES_PER_UPLOAD"]


class SizeLimitUploadHandler(FileUploadHandler):
    """Refuses a request whose declared length cannot fit, and any file that grows past the limit."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        limit = max_file_bytes()
        if content_length and content_length > (limit + PART_OVERHEAD) * max_files():
            raise PayloadTooLarge(
                f"The request has {content_length:,} bytes; at most {max_files()} files of "
                f"{limit:,} bytes each are accepted.",
                details={"limit": limit, "max_files": max_files()},
            )
        return None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        limit = max_file_bytes()
        if self.received > limit:
            raise PayloadTooLarge(size_limit_message(limit), details={"limit": limit})
        return raw_data  # the next handler stores it

    def file_complete(self, file_size):
        return None


def install_size_limit(request) -> None:
    """Put the size check first; call before anything reads ``request.POST`` or ``request.FILES``."""
    handlers = request.upload_handlers
    if not any(isinstance(handler, SizeLimitUploadHandler) for handler in handlers):
        request.upload_handlers.insert(0, SizeLimitUploadHandler(request))


def safe_download_name(original_name: str, *, fallback: str) -> str:
    """An ASCII file name for Content-Disposition: no path, no quotes, no control characters."""
    name = original_name.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = UNSAFE.sub("_", name).strip(" ._")[:120]
    return name or fallback
