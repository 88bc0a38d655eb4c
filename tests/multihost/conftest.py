"""The multi-host test bed for pytest: one bed for the package's tests, figures printed at the end.

`make test` runs scenarios 1, 2 and 4 and the Sentinel and PgBouncer tests; `make multihost`
(MULTIHOST_FULL=1) runs all six scenarios. Where network namespaces or the tools are missing, every
test here skips with the reason, repeated loudly in the summary.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests import summary
from tests.multihost.bed import TestBed, unavailable_reason

FIGURES: list[str] = []
SKIP_REASONS: list[str] = []


def full_run() -> bool:
    return os.environ.get("MULTIHOST_FULL") == "1"


only_in_full_run = pytest.mark.skipif(
    not full_run(), reason="runs with `make multihost` (CI runs scenarios 1, 2 and 4 of the multi-host bed)"
)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # pytest then tears the bed down


@pytest.fixture(scope="package")  # gone when tests/multihost is done, before the rest of the suite
def bed():
    reason = unavailable_reason()
    if reason:
        SKIP_REASONS.append(reason)
        pytest.skip(f"!!! multi-host test bed unavailable: {reason} !!!")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    test_bed = TestBed(hosts=("h1", "h2", "h3"))
    try:
        test_bed.start()
        yield test_bed
    finally:
        test_bed.close()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def report():
    """Record one line of figures for the summary printed after the run."""
    return FIGURES.append


def _summary():
    if not FIGURES and not SKIP_REASONS:
        return None
    lines = [(line, {}) for line in sorted(FIGURES, key=lambda text: (not text.startswith("scenario"), text))]
    lines += [(f"!!! SKIPPED: {reason} !!!", {"red": True, "bold": True}) for reason in dict.fromkeys(SKIP_REASONS)]
    return ("multi-host test bed", lines)


def pytest_sessionfinish(session):
    summary.hand_to_controller(session.config, _summary())


def pytest_terminal_summary(terminalreporter):
    summary.write_here(terminalreporter, _summary())
