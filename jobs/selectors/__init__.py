"""Reads of the job engine for the API, the pages and the commands, by concern:
``jobs`` (lists, pages, details, dead letters), ``stats`` (aggregates), ``system`` (queues,
workers, scheduler, health)."""

from jobs.selectors.jobs import (
    LIST_FIELDS,
    dead_letter_groups,
    dead_letter_jobs,
    job_children,
    job_get,
    job_list,
    job_list_page,
    job_reruns,
    jobs_by_ids,
)
from jobs.selectors.stats import (
    dashboard_counts,
    dashboard_overview,
    job_stats,
    latency_percentiles,
    throughput_buckets,
)
from jobs.selectors.system import (
    SCHEDULER_HEARTBEAT_EXPIRY,
    actor_overview,
    autoscale_events,
    host_metrics,
    live_workers,
    queue_overview,
    scheduler_heartbeat_key,
    scheduler_status,
    system_health,
    worker_overview,
)

__all__ = [
    "LIST_FIELDS",
    "SCHEDULER_HEARTBEAT_EXPIRY",
    "actor_overview",
    "dashboard_counts",
    "dashboard_overview",
    "dead_letter_groups",
    "dead_letter_jobs",
    "host_metrics",
    "job_children",
    "job_get",
    "job_list",
    "job_list_page",
    "job_reruns",
    "job_stats",
    "jobs_by_ids",
    "latency_percentiles",
    "live_workers",
    "autoscale_events",
    "queue_overview",
    "scheduler_heartbeat_key",
    "scheduler_status",
    "system_health",
    "throughput_buckets",
    "worker_overview",
]
