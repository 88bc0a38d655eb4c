"""Checks made before any parser sees a file: ZIP bombs in Office and ODF archives.

The declared sizes in the ZIP directory are summed and compared with limits; a member that
expands more than the ratio limit (and is large enough for that to matter: a small ``styles.xml``
often compresses 50×) marks a bomb. Python's zipfile stops reading a member at its declared size,
so a directory that lies about sizes cannot make a parser read more than was checked here.
"""

from __future__ import annotations

import zipfile

from documents.extractors.base import ExtractionError, Rejected

# Members smaller than this are not ratio-checked: they cannot expand to anything dangerous.
RATIO_CHECK_MIN_BYTES = 1024 * 1024


def check_zip_archive(path: str, *, max_uncompressed: int, max_ratio: int, max_members: int) -> dict:
    """Raise Rejected for a bomb, ExtractionError for an unreadable archive; return the archive's figures."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:
        raise ExtractionError(f"The archive is corrupt or truncated ({exc}).") from None
    if len(members) > max_members:
        raise Rejected(f"The archive has {len(members):,} members; the limit is {max_members:,} (zip bomb guard).")
    total = sum(member.file_size for member in members)
    if total > max_uncompressed:
        raise Rejected(f"The archive expands to {total:,} bytes; the limit is {max_uncompressed:,} (zip bomb guard).")
    for member in members:
        if member.flag_bits & 0x1:
            raise ExtractionError("The archive is encrypted with a password; it cannot be read.")
        if member.file_size >= RATIO_CHECK_MIN_BYTES:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > max_ratio:
                raise Rejected(
                    f"{member.filename} expands {ratio:,.0f}× ({member.compress_size:,} → {member.file_size:,} bytes); "
                    f"the limit is {max_ratio}× (zip bomb guard)."
                )
    return {"members": len(members), "uncompressed_bytes": total}
