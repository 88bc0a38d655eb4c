"""The worker's side: a pool of extractor children, one request at a time each, with deadlines.

A child that runs past the deadline is killed; one that dies (the memory ceiling makes the
allocator fail: a MemoryError, or a crash in C code) is replaced. Either way the caller gets an
exception with a sentence a person can read, and the worker thread goes on.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from documents.extractors.base import ExtractionError
from documents.isolation import protocol

logger = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# How often a waiting caller gets control back (to notice a cancelled job).
WAIT_SLICE = 0.5


class ExtractorTimeout(ExtractionError):
    """The parser ran past the wall-clock limit and was killed."""


class MemoryCeilingExceeded(ExtractionError):
    """The parser needed more memory than the ceiling allows and was stopped."""


class ExtractorCrashed(ExtractionError):
    """The parser process died (a crash in C code) while parsing."""


def format_bytes(size: int) -> str:
    """1073741824 → "1 GB", 268435456 → "256 MB"."""
    mb = size / (1024 * 1024)
    if mb >= 1024 and mb % 1024 == 0:
        return f"{int(mb // 1024)} GB"
    return f"{mb:g} MB"


class ExtractorProcess:
    """One child (``python -m documents.isolation.child``) and its pipes."""

    def __init__(self, *, memory_bytes: int):
        self.memory_bytes = memory_bytes
        self.uses = 0
        env = {**os.environ, "OMP_THREAD_LIMIT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "documents.isolation.child", str(memory_bytes)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=PROJECT_ROOT,
            env=env,
            close_fds=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            logger.warning("Extractor child %s did not exit after SIGKILL", self.proc.pid)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def request(self, message: dict, *, timeout: float, on_wait=None) -> dict:
        """Send one request and wait for its response; raises the errors above."""
        self.uses += 1
        try:
            self.proc.stdin.write(protocol.encode(message))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None
        body = self._read_response(timeout=timeout, on_wait=on_wait)
        response = protocol.decode(body)
        if not response.get("ok") and response.get("kind") == "memory":
            raise self._memory_exceeded()
        return response

    def _read_response(self, *, timeout: float, on_wait) -> bytes:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        buffer = bytearray()
        needed = protocol.HEADER.size
        header_read = False
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while len(buffer) < needed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ExtractorTimeout(
                        f"Parsing took longer than the limit of {timeout:g} s; the parser was stopped."
                    )
                if on_wait is not None:
                    on_wait()
                if not selector.select(min(WAIT_SLICE, remaining)):
                    continue
                chunk = os.read(fd, max(needed - len(buffer), 65536))
                if not chunk:
                    raise self._died()
                buffer += chunk
                if not header_read and len(buffer) >= protocol.HEADER.size:
                    (length,) = protocol.HEADER.unpack(bytes(buffer[: protocol.HEADER.size]))
                    if length > protocol.MAX_FRAME_BYTES:
                        raise ExtractorCrashed(f"The parser process sent a {length}-byte answer; it was stopped.")
                    needed = protocol.HEADER.size + length
                    header_read = True
        return bytes(buffer[protocol.HEADER.size :])

    def _memory_exceeded(self) -> MemoryCeilingExceeded:
        return MemoryCeilingExceeded(
            f"The parser exceeded {format_bytes(self.memory_bytes)} while parsing and was stopped "
            "(DOCUMENTS_EXTRACTION_MEMORY_MB)."
        )

    def _died(self) -> ExtractionError:
        try:
            code = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        if code == 3:  # child.EXIT_MEMORY
            return self._memory_exceeded()
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            return ExtractorCrashed(
                f"The parser process died with {name} while parsing (memory ceiling "
                f"{format_bytes(self.memory_bytes)}); the file is likely malformed."
            )
        return ExtractorCrashed(f"The parser process exited unexpectedly (code {code}) while parsing.")


class ExtractorPool:
    """Idle children per worker process; a thread takes one, uses it, and gives it back if healthy."""

    def __init__(self):
        self._idle: list[ExtractorProcess] = []
        self._lock = threading.Lock()

    def run(self, message: dict, *, memory_bytes: int, timeout: float, recycle_after: int, on_wait=None) -> dict:
        child = self._take(memory_bytes)
        reusable = False
        try:
            response = child.request(message, timeout=timeout, on_wait=on_wait)
            reusable = child.uses < recycle_after
            return response
        finally:
            # A timeout, a death, a cancellation or any exception in between: the child goes.
            if reusable and child.alive():
                with self._lock:
                    self._idle.append(child)
            else:
                child.kill()

    def _take(self, memory_bytes: int) -> ExtractorProcess:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.alive() and child.memory_bytes == memory_bytes:
                    return child
                child.kill()
        return ExtractorProcess(memory_bytes=memory_bytes)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for child in idle:
            child.kill()

    def size(self) -> int:
        with self._lock:
            return len(self._idle)


_default_pool = ExtractorPool()


def default_pool() -> ExtractorPool:
    return _default_pool
