"""Stored originals: named after the SHA-256 of their bytes, written atomically, never from a user's path.

``ab/cd/abcd…`` (two levels of 256 folders) keeps directories small at millions of files.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from jobs.errors import PayloadTooLarge

CHUNK = 64 * 1024
STORAGE_NAME = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    storage_name: str


def storage_dir() -> Path:
    return Path(settings.DOCUMENTS["STORAGE_DIR"])


def storage_name_for(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def path_of(storage_name: str) -> Path:
    """The path of a stored file; refuses any name this module would not have made."""
    if not STORAGE_NAME.match(storage_name or ""):
        raise ValueError(f"not a stored document name: {storage_name!r}")
    return storage_dir() / storage_name


def max_upload_bytes() -> int:
    return settings.DOCUMENTS["MAX_UPLOAD_BYTES"]


def size_limit_message(limit: int) -> str:
    return f"The file is larger than the limit of {limit:,} bytes ({limit / (1024 * 1024):g} MB)."


def store_stream(stream, *, max_bytes: int | None = None) -> Stored:
    """Copy ``stream`` into storage while hashing it: the SHA-256 is of the bytes actually stored.

    Raises PayloadTooLarge past ``max_bytes`` (nothing is kept then).
    """
    limit = max_upload_bytes() if max_bytes is None else max_bytes
    root = storage_dir()
    incoming = root / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, temporary = tempfile.mkstemp(dir=incoming, prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(size_limit_message(limit), details={"limit": limit})
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        sha256 = digest.hexdigest()
        name = storage_name_for(sha256)
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.unlink(temporary)  # the same bytes are stored already
        else:
            os.chmod(temporary, 0o640)
            os.replace(temporary, target)
        return Stored(sha256=sha256, size=size, storage_name=name)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def remove(storage_name: str) -> int:
    """Delete a stored file; returns the bytes freed (0 when it was already gone)."""
    path = path_of(storage_name)
    try:
        size = path.stat().st_size
        path.unlink()
        return size
    except FileNotFoundError:
        return 0
