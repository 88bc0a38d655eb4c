"""Byte-level limits of an input CSV, checked while it is read, before any parser sees a line.

A CSV parser buffers a whole line (or a whole quoted field) before it can say anything about it:
a 100 MB line without a newline, or a quote that never closes, costs hundreds of megabytes before
the file is refused. ``LimitedLines`` reads the file in blocks and refuses, as soon as it sees it:

* a line longer than ``MAX_LINE_BYTES``;
* a line with an odd number of double quotes (a quoted field spanning lines, or an unterminated
  quote: the store files have neither, and line numbers stay true);
* a NUL byte (PostgreSQL cannot store it in text, and no CSV of ours has one).

Each block is scanned with NumPy, so the check costs a small fraction of the parsing.
"""

from __future__ import annotations

import io

import numpy as np

MAX_LINE_BYTES = 4096
MAX_COLUMNS = 32
BLOCK_BYTES = 1 << 20
NEWLINE, QUOTE, NUL = 10, 34, 0


class LimitExceeded(ValueError):
    """A file that breaks a byte-level limit; the message names the line."""


class LimitedLines(io.RawIOBase):
    """A readable binary stream over ``handle`` that raises LimitExceeded when a limit is broken."""

    def __init__(self, handle, name: str, *, max_line_bytes: int = MAX_LINE_BYTES):
        super().__init__()
        self.handle = handle
        self.name = name
        self.max_line_bytes = max_line_bytes
        self.line = 1  # the number of the line being read
        self.open_length = 0  # bytes of that line read so far
        self.open_quotes = 0  # double quotes in that line so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        block = self.handle.read(min(len(buffer), BLOCK_BYTES))
        if not block:
            self._check_last_line()
            return 0
        self._check(block)
        buffer[: len(block)] = block
        return len(block)

    def _fail(self, line: int, reason: str):
        raise LimitExceeded(f"{self.name} line {line}: {reason}; nothing was imported.")

    def _check(self, block: bytes) -> None:
        data = np.frombuffer(block, dtype=np.uint8)
        nul = np.flatnonzero(data == NUL)
        newlines = np.flatnonzero(data == NEWLINE)
        if nul.size:
            self._fail(self.line + int(np.searchsorted(newlines, nul[0])), "contains a NUL byte")
        quotes = np.flatnonzero(data == QUOTE)
        if newlines.size == 0:
            self.open_length += len(block)
            self.open_quotes += int(quotes.size)
            if self.open_length > self.max_line_bytes:
                self._fail(self.line, f"is longer than {self.max_line_bytes} bytes")
            return
        # Lengths (without the newline) and quote counts of the lines this block completes.
        lengths = np.diff(newlines, prepend=-1) - 1
        lengths[0] += self.open_length
        counts = np.bincount(np.searchsorted(newlines, quotes), minlength=newlines.size + 1)
        counts[0] += self.open_quotes
        too_long = np.flatnonzero(lengths > self.max_line_bytes)
        odd = np.flatnonzero(counts[: newlines.size] % 2)
        if too_long.size or odd.size:
            first_long = int(too_long[0]) if too_long.size else newlines.size
            first_odd = int(odd[0]) if odd.size else newlines.size
            if first_long <= first_odd:
                self._fail(self.line + first_long, f"is longer than {self.max_line_bytes} bytes")
            self._fail(self.line + first_odd, "has an unterminated quote (or a quoted field spanning lines)")
        self.line += int(newlines.size)
        self.open_length = len(block) - int(newlines[-1]) - 1
        self.open_quotes = int(counts[newlines.size])
        if self.open_length > self.max_line_bytes:
            self._fail(self.line, f"is longer than {self.max_line_bytes} bytes")

    def _check_last_line(self) -> None:
        if self.open_quotes % 2:
            self._fail(self.line, "has an unterminated quote")


def limited_text(handle, name: str) -> io.TextIOWrapper:
    """UTF-8 text (a BOM dropped) over ``handle``, with the byte-level limits checked as it is read."""
    return io.TextIOWrapper(
        io.BufferedReader(LimitedLines(handle, name), BLOCK_BYTES), encoding="utf-8-sig", newline=""
    )
