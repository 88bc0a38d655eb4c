"""Retry policies: how long to wait before attempt ``n + 1`` after attempt ``n`` failed."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Base policy: ``max_retries`` automatic retries; delays between ``min_delay`` and ``max_delay`` seconds."""

    max_retries: int = 3
    min_delay: float = 1.0
    max_delay: float = 3600.0
    kind = "fixed"

    def base_delay(self, failed_attempt: int) -> float:
        return self.min_delay

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after the ``failed_attempt``-th attempt (1-based) failed."""
        return min(max(self.base_delay(failed_attempt), 0.0), self.max_delay)

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "max_retries": self.max_retries,
            "min_delay": self.min_delay,
            "max_delay": self.max_delay,
        }


@dataclass(frozen=True)
class Fixed(RetryPolicy):
    kind = "fixed"


@dataclass(frozen=True)
class Linear(RetryPolicy):
    kind = "linear"

    def base_delay(self, failed_attempt: int) -> float:
        return self.min_delay * failed_attempt


@dataclass(frozen=True)
class Fibonacci(RetryPolicy):
    kind = "fibonacci"

    def base_delay(self, failed_attempt: int) -> float:
        a, b = 1, 1
        for _ in range(failed_attempt - 1):
            a, b = b, a + b
        return self.min_delay * a


@dataclass(frozen=True)
class Exponential(RetryPolicy):
    """Doubling delays with "equal jitter": half fixed, half random, so retries of many jobs spread out."""

    kind = "exponential"
    jitter: bool = True

    def base_delay(self, failed_attempt: int) -> float:
        return self.min_delay * (2 ** (failed_attempt - 1))

    def delay(self, failed_attempt: int) -> float:
        capped = super().delay(failed_attempt)
        if not self.jitter:
            return capped
        return capped / 2 + random.uniform(0, capped / 2)

    def describe(self) -> dict:
        return {**super().describe(), "jitter": self.jitter}


DEFAULT_POLICY = Exponential(max_retries=3, min_delay=5.0, max_delay=3600.0)
