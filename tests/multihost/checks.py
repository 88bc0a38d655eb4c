"""What the scenarios check, on the effects list and the engine's tables."""

from __future__ import annotations

from collections import Counter, defaultdict

from tests.multihost.actors import Event


def percentile(values, share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def per_job(events: list[Event], kind: str) -> Counter:
    return Counter(e.job for e in events if e.kind == kind)


def host_shares(events: list[Event]) -> dict[str, float]:
    returns = Counter(e.host for e in events if e.kind == "return")
    total = sum(returns.values()) or 1
    return {host: count / total for host, count in sorted(returns.items())}


def jobs_running_on(scenario, label: str) -> dict[str, int]:
    """The engine's view: jobs running on a worker process of host ``label`` → their attempt."""
    rows = scenario.sql(
        "SELECT j.id::text, j.attempts FROM jobs_job j JOIN jobs_worker w ON w.id = j.worker_id "
        "WHERE j.status = 'running' AND w.hostname = %s",
        [f"mh-{label}"],
    )
    return dict(rows)


def reruns_elsewhere(events: list[Event], stranded: dict[str, int], *, away_from: str) -> dict[str, float]:
    """For each stranded job (id → attempt it had), when a later attempt started on another host."""
    found: dict[str, float] = {}
    for event in events:
        attempt = stranded.get(event.job)
        if event.kind == "start" and attempt is not None and event.attempt > attempt and event.host != away_from:
            found[event.job] = min(found.get(event.job, event.at), event.at)
    return found


def token_holders_overlap(scenario) -> list[str]:
    """Jobs whose attempts overlapped by the database's clock: an attempt that started before the
    previous one was released. Lost attempts end when released; the last one starts at the job's
    ``started_at``. Every time here was written by the database."""
    attempts = defaultdict(list)
    for job_id, number, started, finished in scenario.sql(
        "SELECT job_id::text, number, started_at, finished_at FROM jobs_jobattempt ORDER BY job_id, number"
    ):
        attempts[job_id].append((number, started, finished))
    final = dict(
        (job_id, (attempts_made, started))
        for job_id, attempts_made, started in scenario.sql(
            "SELECT id::text, attempts, started_at FROM jobs_job WHERE id::text = ANY(%s)", [list(attempts)]
        )
    )
    overlapping = []
    for job_id, rows in attempts.items():
        made, last_started = final[job_id]
        intervals = [(started, finished) for number, started, finished in rows if number < made]
        intervals.append((last_started, None))
        for (_, previous_end), (next_start, _) in zip(intervals, intervals[1:], strict=False):
            if previous_end is None or next_start < previous_end:
                overlapping.append(job_id)
                break
    return overlapping


def results_from_final_attempts(scenario) -> list[str]:
    """Succeeded jobs whose stored result was not written by their last attempt (a stale copy's)."""
    rows = scenario.sql("SELECT id::text, attempts, result FROM jobs_job WHERE status = 'succeeded'")
    return [job_id for job_id, attempts, result in rows if not result or result.get("attempt") != attempts]


def late_effects(scenario) -> dict[tuple[str, int], str]:
    """(job, attempt) → what a fenced copy did after its job was taken from it."""
    rows = scenario.sql("SELECT job_id::text, number, late_outcome FROM jobs_jobattempt WHERE late_outcome <> ''")
    return {(job_id, number): outcome for job_id, number, outcome in rows}
