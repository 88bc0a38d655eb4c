"""Fixed log-scale histograms of durations: eight buckets per decade from 1 ms to 10^5 s.

Every rollup stores its wait and run times as counts per bucket, so that an hour's histogram is
the sum of its minutes' and a chart's percentiles come from any span without the raw rows.
A percentile read from them is within one bucket, about 33 % wide, of the exact figure.

Stored sparse, ``{"<bucket>": count}`` (a handful of buckets are used per series, and jsonb
spends some twelve bytes on every array element, zeros included); counted dense, in lists.
"""

from __future__ import annotations

import math

PER_DECADE = 8
# Bucket 0: under 1 ms. Bucket k (1..LAST-1): [10^((k-1)/8), 10^(k/8)) ms. LAST: 10^8 ms and over.
LAST = 8 * PER_DECADE + 1
SIZE = LAST + 1


def bucket_of(seconds: float) -> int:
    milliseconds = seconds * 1000.0
    if milliseconds < 1.0:
        return 0
    return min(int(math.floor(PER_DECADE * math.log10(milliseconds))) + 1, LAST)


def bucket_sql(interval_sql: str) -> str:
    """The same bucket, in PostgreSQL, of an interval expression (NULL stays NULL)."""
    milliseconds = f"(EXTRACT(EPOCH FROM {interval_sql}) * 1000)"
    return (
        f"CASE WHEN {milliseconds} < 1 THEN 0 ELSE"
        f" LEAST(FLOOR({PER_DECADE} * LOG({milliseconds}))::int + 1, {LAST}) END"
    )


def lower_bound(index: int) -> float:
    """The smallest duration (seconds) of a bucket."""
    return 0.0 if index == 0 else 10 ** ((index - 1) / PER_DECADE) / 1000.0


def upper_bound(index: int) -> float:
    return 10 ** (index / PER_DECADE) / 1000.0


def dense() -> list[int]:
    return [0] * SIZE


def add(counts: list[int], stored: dict | None) -> None:
    """Add a stored (sparse) histogram into dense ``counts``."""
    for index, count in (stored or {}).items():
        counts[int(index)] += count


def sparse(counts: list[int]) -> dict[str, int]:
    """What is stored: the buckets with counts."""
    return {str(index): count for index, count in enumerate(counts) if count}


def merge(histograms) -> dict[str, int]:
    """The sum of stored histograms, stored the same way."""
    total = dense()
    for stored in histograms:
        add(total, stored)
    return sparse(total)


def percentiles(histogram: dict | list | None, fractions: tuple[float, ...]) -> list[float | None]:
    """The durations (seconds) under which each of ``fractions`` (ascending) of the counted ones
    fall, interpolated within their bucket on the log scale, in one pass; Nones for an empty
    histogram. Takes a stored or a dense histogram."""
    if isinstance(histogram, dict):
        counts = dense()
        add(counts, histogram)
    else:
        counts = histogram or []
    count = sum(counts)
    if not count:
        return [None] * len(fractions)
    ranks = [fraction * count for fraction in fractions]
    found: list[float | None] = []
    seen = 0
    for index, n in enumerate(counts):
        if not n:
            continue
        while len(found) < len(ranks) and seen + n >= ranks[len(found)]:
            within = (ranks[len(found)] - seen) / n
            if index == 0:
                found.append(round(within * upper_bound(0), 6))
            elif index == LAST:
                found.append(round(lower_bound(LAST), 6))
            else:
                low, high = lower_bound(index), upper_bound(index)
                found.append(round(low * (high / low) ** within, 6))
        if len(found) == len(ranks):
            break
        seen += n
    return found


def percentile(histogram: dict | list | None, fraction: float) -> float | None:
    """One of ``percentiles``."""
    return percentiles(histogram, (fraction,))[0]
