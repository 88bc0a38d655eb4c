"""(g) Two supervisors whose clocks are 30 s apart (JOBS_CLOCK_OFFSET_SECONDS on one shifts the clock
its code reads): jobs longer than the liveness timeout run on both; nothing alive is reaped."""

import pytest

from tests.chaos.analysis import percentile, settled_text
from tests.chaos.conftest import scaled
from tests.chaos.harness import LIVENESS_TIMEOUT

pytestmark = pytest.mark.chaos

OFFSET = 30.0
JOBS_PER_SIDE = scaled(short=2, full=6)
SECONDS = round(2 * LIVENESS_TIMEOUT, 1)


def test_clocks_30_seconds_apart_reap_nothing_alive(scenario, report):
    sc = scenario("g")
    # A queue per supervisor, so that each one surely runs jobs (prefetch could give all to one).
    sc.start_supervisor("base", processes=1, threads=4, queues=["default"])
    sc.start_supervisor(
        "ahead", processes=1, threads=4, queues=["scans"], env={"JOBS_CLOCK_OFFSET_SECONDS": str(OFFSET)}
    )
    ids = sc.submit("chaos.work", [[[SECONDS], {}]] * JOBS_PER_SIDE, queue_name="default")
    ids += sc.submit("chaos.work", [[[SECONDS], {}]] * JOBS_PER_SIDE, queue_name="scans")
    settled = sc.wait_terminal(ids, timeout=3 * SECONDS + 30)
    v = sc.judge(ids)
    skew: dict[str, list[float]] = {"base": [], "ahead": []}
    django_skew: dict[str, list[float]] = {"base": [], "ahead": []}
    ran_on = set()
    for e in sc.effects.refresh():
        owner = sc.watcher.owner(e.pid)
        ran_on.add(owner)
        skew.setdefault(owner, []).append(e.clock - e.t)
        django_skew.setdefault(owner, []).append(e.django_clock - e.t)
    seen = {k: percentile(vals, 50) for k, vals in skew.items() if vals}
    seen_django = {k: percentile(vals, 50) for k, vals in django_skew.items() if vals}
    report(
        "g",
        f"clocks {OFFSET:g} s apart [{2 * JOBS_PER_SIDE} jobs of {SECONDS:g} s, liveness timeout "
        f"{LIVENESS_TIMEOUT:g} s, 2 supervisors 1x4]: clock seen by actors minus the host's: time.time "
        + ", ".join(f"{k} {s:+.1f} s" for k, s in sorted(seen.items()))
        + "; timezone.now "
        + ", ".join(f"{k} {s:+.1f} s" for k, s in sorted(seen_django.items()))
        + f"; ran on {sorted(ran_on)}; {v.summary()}; all terminal "
        f"{settled_text(settled, 3 * SECONDS + 30)}; {sc.elapsed:.0f} s",
    )
    # Without the skew applied the scenario would test nothing: the clock must really be off.
    for name, expected in (("base", 0.0), ("ahead", OFFSET)):
        assert abs(seen.get(name, float("nan")) - expected) < 1.0, (
            f"{name}: time.time() is off by {seen.get(name)} s, expected {expected:+g} "
            "(JOBS_CLOCK_OFFSET_SECONDS not applied by the engine?)"
        )
        assert abs(seen_django.get(name, float("nan")) - expected) < 1.0, f"{name}: timezone.now() not shifted"
    assert {"base", "ahead"} <= ran_on
    assert v.lost_attempts == 0, "a live job was reaped"
    assert v.statuses == {"succeeded": len(ids)}, v.statuses
    assert set(v.starts_by_job.values()) == {1} and set(v.effects_by_job.values()) == {1}
