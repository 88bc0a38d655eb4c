"""The task execution report: per actor and queue, jobs created in a period by final status, success rate,
retries and run/wait time percentiles (vectorised with pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd

FINAL_STATUSES = ("succeeded", "failed", "cancelled")
COLUMNS = (
    "actor",
    "queue",
    "jobs",
    "succeeded",
    "failed",
    "cancelled",
    "unfinished",
    "success_rate",
    "retries",
    "run_p50_s",
    "run_p95_s",
    "run_max_s",
    "wait_p50_s",
    "wait_p95_s",
    "wait_max_s",
)
DEFINITIONS = {
    "period": "jobs created in [since, until)",
    "success_rate": "succeeded / (succeeded + failed + cancelled); empty when none finished",
    "retries": "sum over jobs of (attempts - 1), attempts counted by the engine at each start",
    "run time": "finished_at - started_at of finished jobs (the last attempt)",
    "wait time": "started_at - enqueued_at of started jobs",
    "percentiles": "linear interpolation between closest ranks (numpy's default)",
}
INPUT_COLUMNS = ("actor", "queue", "status", "attempts", "enqueued_at", "started_at", "finished_at")


def compute_task_execution(jobs: pd.DataFrame) -> pd.DataFrame:
    """One row per (actor, queue), sorted; ``jobs`` has the ``INPUT_COLUMNS`` (times as datetime64)."""
    if jobs.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    frame = jobs.copy()
    for status in FINAL_STATUSES:
        frame[status] = (frame["status"] == status).astype(np.int64)
    frame["unfinished"] = (~frame["status"].isin(FINAL_STATUSES)).astype(np.int64)
    frame["retries"] = (frame["attempts"].astype(np.int64) - 1).clip(lower=0)
    finished = frame["status"].isin(FINAL_STATUSES)
    frame["run"] = ((frame["finished_at"] - frame["started_at"]).dt.total_seconds()).where(finished).clip(lower=0)
    frame["wait"] = ((frame["started_at"] - frame["enqueued_at"]).dt.total_seconds()).clip(lower=0)
    groups = frame.groupby(["actor", "queue"], sort=True)
    out = groups[["succeeded", "failed", "cancelled", "unfinished", "retries"]].sum()
    out.insert(0, "jobs", groups.size())
    done = out["succeeded"] + out["failed"] + out["cancelled"]
    out["success_rate"] = (out["succeeded"] / done.where(done > 0)).round(4)
    for name in ("run", "wait"):
        out[f"{name}_p50_s"] = groups[name].quantile(0.5)
        out[f"{name}_p95_s"] = groups[name].quantile(0.95)
        out[f"{name}_max_s"] = groups[name].max()
    return out.reset_index()[list(COLUMNS)]


def format_value(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return str(value)
