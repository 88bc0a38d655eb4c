"""(b) A job whose C call holds the GIL for twice the liveness timeout: its process looks silent
from inside (no Python thread runs, no heartbeat), yet it is alive and must not be run again."""

import time

import pytest

from tests.chaos.analysis import settled_text
from tests.chaos.harness import LIVENESS_TIMEOUT

pytestmark = pytest.mark.chaos

HOLD = int(round(2 * LIVENESS_TIMEOUT))


def test_gil_held_for_twice_the_liveness_timeout(scenario, report):
    sc = scenario("b")
    # Two processes: the other one is there to (wrongly) reap the silent one's job and run it.
    sc.start_supervisor("pool", processes=2, threads=2)
    [job] = sc.submit("chaos.hold_gil", [[[HOLD], {}]])
    sc.wait_started([job], timeout=60)
    settled = sc.wait_terminal([job], timeout=HOLD + 30)
    time.sleep(LIVENESS_TIMEOUT)  # a copy started late would have started by now
    v = sc.judge([job])
    held = [round(c.end - c.start, 1) for c in sc.copies.get(job, []) if c.end is not None]
    row = sc.final[job]
    report(
        "b",
        f"GIL held {HOLD} s (liveness timeout {LIVENESS_TIMEOUT:g} s) [1 job, 2x2]: status {row.status} "
        f"({row.error_type or 'no error'}), attempts {row.attempts}; starts {v.copies}, effects {v.effects}, "
        f"max {v.max_concurrent} copies at once, copy durations {held} s; lost attempts {v.lost_attempts} "
        f"({len(v.lost_alive)} from live copies); terminal "
        f"{settled_text(settled, HOLD + 30)}; {sc.elapsed:.0f} s",
    )
    assert row.status == "succeeded", (row.status, row.error_type, row.error_message)
    assert v.copies == 1, f"{v.copies} copies ran, {v.max_concurrent} at once"
    assert v.effects == 1
    assert v.lost_attempts == 0, "a live job was declared lost"
