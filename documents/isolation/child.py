"""The extractor child: sets its memory ceiling, then extracts one file per request until its input closes.

Run as ``python -m documents.isolation.child MEMORY_BYTES``. It imports nothing of Django; the
parsers are imported on first use, inside the ceiling.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import traceback
import warnings

from documents.isolation import protocol

EXIT_MEMORY = 3


def set_memory_ceiling(limit_bytes: int) -> None:
    if limit_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def handle(request: dict) -> dict:
    from documents.extractors import get_extractor
    from documents.extractors.base import ExtractionError, Limits, Rejected

    try:
        extract = get_extractor(request["mime_type"])
        extraction = extract(
            request["path"],
            mime_type=request["mime_type"],
            limits=Limits.from_dict(request.get("limits", {})),
            metadata_only=bool(request.get("metadata_only")),
        )
        return {"ok": True, "extraction": extraction.as_dict()}
    except Rejected as exc:
        return {"ok": False, "kind": "rejected", "message": str(exc)}
    except ExtractionError as exc:
        return {"ok": False, "kind": "failed", "message": str(exc)}
    except RecursionError:
        return {"ok": False, "kind": "failed", "message": "The file is nested too deeply to parse."}
    except MemoryError:
        raise
    except Exception as exc:  # a parser's own error on a malformed file: readable, never fatal
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return {"ok": False, "kind": "failed", "message": f"The parser failed: {detail[:1000]}"}


def main() -> int:
    set_memory_ceiling(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    warnings.simplefilter("ignore")  # libraries' warnings about odd files would flood the worker's log
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Parsers that print must not corrupt the frames: their prints go to stderr.
    sys.stdout = sys.stderr
    while True:
        request = protocol.read_frame(stdin)
        if request is None:
            return 0
        out_of_memory = False
        try:
            response = handle(request)
        except MemoryError:
            out_of_memory = True
        if out_of_memory:
            response = None
            gc.collect()
            try:
                stdout.write(protocol.encode({"ok": False, "kind": "memory", "message": ""}))
                stdout.flush()
            finally:
                os._exit(EXIT_MEMORY)  # the heap may be in a bad state: never reuse this process
        stdout.write(protocol.encode(response))
        stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
