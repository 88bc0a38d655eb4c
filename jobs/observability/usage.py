"""What an attempt cost: CPU time of its thread, and the process's peak memory.

The one hook of the worker path: ``sample()`` when a copy is claimed (in the worker thread that
runs it), ``attempt_usage(started)`` when the actor returned, in that same thread. On Linux each
is one system call, ``getrusage(RUSAGE_THREAD)``: the thread's CPU time and the process's peak RSS
together (a few microseconds; ``RUSAGE_SELF`` would walk every thread of the process).

What the figures mean, honestly:
- ``cpu_seconds`` is the CPU time of the worker thread from the claim to the end of the actor:
  the job's own work (plus the engine's few microseconds around it), not that of the threads
  beside it. Time spent sleeping or waiting for I/O is not CPU time.
- ``peak_rss_bytes`` is the process's peak resident memory (``ru_maxrss``) at the end of the
  attempt. Threads share one process, so it is an upper bound of the attempt's own peak; it never
  goes down during a process's life.
- ``rss_growth_bytes`` is how much the attempt's run raised that peak: above zero only when the
  process reached a new high while it ran (the attempt, or a job beside it, needed more memory
  than the process ever had). This is what singles out a memory-hungry actor.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import NamedTuple

# ru_maxrss is in kibibytes on Linux, in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
# Linux: the calling thread's CPU times, with the process's peak RSS (elsewhere: two calls).
_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)


class AttemptUsage(NamedTuple):
    cpu_seconds: float
    peak_rss_bytes: int
    rss_growth_bytes: int


def sample() -> tuple[float, int]:
    """(thread CPU seconds, process peak RSS in bytes) now, in the calling thread."""
    if _RUSAGE_THREAD is not None:
        usage = resource.getrusage(_RUSAGE_THREAD)
        return usage.ru_utime + usage.ru_stime, usage.ru_maxrss * _MAXRSS_UNIT
    return time.thread_time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


def attempt_usage(started: tuple[float, int]) -> AttemptUsage:
    """The usage since ``started`` (a ``sample()`` taken in this same thread)."""
    cpu, peak = sample()
    return AttemptUsage(round(max(cpu - started[0], 0.0), 6), peak, max(peak - started[1], 0))
