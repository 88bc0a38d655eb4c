"""Frames on the pipes between a worker and its extractor children: 8-byte length, then JSON."""

from __future__ import annotations

import json
import struct

HEADER = struct.Struct(">Q")
# A response carries at most the capped text (a few MB as JSON); anything larger is a broken child.
MAX_FRAME_BYTES = 256 * 1024 * 1024


def encode(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict:
    return json.loads(body.decode("utf-8", "replace"))


def read_frame(stream) -> dict | None:
    """A blocking read of one frame (the child's side); None at end of input."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {length} bytes")
    return decode(stream.read(length))
