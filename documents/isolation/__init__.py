"""Every extraction runs in a child process with a memory ceiling (RLIMIT_AS) and a wall-clock limit.

A parser stuck in C code or eating memory is killed there and the worker lives on; Dramatiq's
time limit cannot interrupt C code. Children are reused (Tika Pipes style) and recycled after
a number of files, so isolation costs a pipe round trip per document, not a process start.
"""

from documents.isolation.pool import (
    ExtractorCrashed,
    ExtractorPool,
    ExtractorTimeout,
    MemoryCeilingExceeded,
    default_pool,
    format_bytes,
)

__all__ = [
    "ExtractorCrashed",
    "ExtractorPool",
    "ExtractorTimeout",
    "MemoryCeilingExceeded",
    "default_pool",
    "format_bytes",
]
