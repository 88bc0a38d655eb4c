"""The Prometheus collector: the engine's figures, read from the database at scrape time.

Every figure here is an aggregate over the tables the engine writes (jobs, attempts, workers,
schedules), so every web process answers a scrape with the same numbers: no per-process state,
no multiprocess directory to share. A scrape costs a handful of indexed aggregate queries.

Counters derived from rows (``jobs_attempts_total``) go down when old jobs are pruned; Prometheus
treats a decrease as a counter reset, so ``rate()`` stays right between prunes.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, DurationField, ExpressionWrapper, Min
from django.db.models.functions import Now
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from jobs import registry
from jobs.models import JobAttempt, JobStatus
from jobs.scheduling.models import Schedule
from jobs.selectors import dashboard_counts, live_workers, scheduler_status
from jobs.selectors.system import queue_overview

S = JobStatus


class JobsCollector(Collector):
    """Jobs by queue and status, queue depth and latency, attempts by outcome, live worker
    processes and their memory, scheduler lag."""

    def collect(self):
        by_status, by_queue = dashboard_counts()
        yield from self._jobs(by_queue)
        yield from self._queues(by_queue)
        yield from self._attempts(by_status)
        yield from self._workers()
        yield from self._scheduler()

    @staticmethod
    def _jobs(by_queue):
        jobs = GaugeMetricFamily(
            "jobs_by_status", "Jobs in the database by queue and status.", labels=["queue", "status"]
        )
        for queue in sorted(set(registry.QUEUES) | set(by_queue)):
            for status in S.values:
                jobs.add_metric([queue, status], by_queue.get(queue, {}).get(status, 0))
        yield jobs

    @staticmethod
    def _queues(by_queue):
        depth = GaugeMetricFamily(
            "jobs_queue_depth", "Jobs waiting to start (pending or queued) by queue.", labels=["queue"]
        )
        broker = GaugeMetricFamily(
            "jobs_queue_broker_messages", "Messages ready in the broker (Redis) by queue.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "jobs_queue_oldest_waiting_seconds",
            "Age of the oldest job waiting to start, by queue (0 when none waits; database clock).",
            labels=["queue"],
        )
        for queue in queue_overview(db_counts=by_queue):
            depth.add_metric([queue["name"]], queue["pending"] + queue["queued"])
            if queue["broker_ready"] is not None:
                broker.add_metric([queue["name"]], queue["broker_ready"])
            oldest.add_metric([queue["name"]], queue["oldest_waiting_seconds"] or 0.0)
        yield from (depth, broker, oldest)

    @staticmethod
    def _attempts(by_status):
        attempts = CounterMetricFamily(
            "jobs_attempts",
            "Attempts of the jobs in the database by outcome (a succeeded job counts its successful attempt).",
            labels=["outcome"],
        )
        outcomes = dict(JobAttempt.objects.order_by().values_list("outcome").annotate(n=Count("*")))
        attempts.add_metric(["succeeded"], by_status.get(S.SUCCEEDED, 0))
        for outcome in ("failed", "timeout", "lost", "cancelled"):
            attempts.add_metric([outcome], outcomes.get(outcome, 0))
        yield attempts

    @staticmethod
    def _workers():
        processes = GaugeMetricFamily(
            "jobs_worker_processes", "Live worker processes by host and queue they consume.", labels=["host", "queue"]
        )
        threads = GaugeMetricFamily(
            "jobs_worker_threads", "Worker threads of the live processes by host and queue.", labels=["host", "queue"]
        )
        busy = GaugeMetricFamily("jobs_worker_running_jobs", "Jobs running now by host.", labels=["host"])
        memory = GaugeMetricFamily(
            "jobs_worker_resident_memory_bytes",
            "Resident memory of each live worker process, as it last reported it.",
            labels=["host", "worker"],
        )
        counts: Counter = Counter()
        thread_counts: Counter = Counter()
        running: Counter = Counter()
        for worker in live_workers().order_by("id"):
            running[worker.hostname] += worker.running_jobs
            for queue in worker.queues or []:
                counts[(worker.hostname, queue)] += 1
                thread_counts[(worker.hostname, queue)] += worker.threads
            if worker.rss_bytes is not None:
                memory.add_metric([worker.hostname, worker.id], worker.rss_bytes)
        for key in sorted(counts):
            processes.add_metric(list(key), counts[key])
            threads.add_metric(list(key), thread_counts[key])
        for host in sorted(running):
            busy.add_metric([host], running[host])
        yield from (processes, threads, busy, memory)

    @staticmethod
    def _scheduler():
        overdue = (
            Schedule.objects.filter(enabled=True, next_run_at__lt=Now())
            .order_by()
            .aggregate(lag=ExpressionWrapper(Now() - Min("next_run_at"), output_field=DurationField()))["lag"]
        )
        lag = GaugeMetricFamily(
            "jobs_scheduler_lag_seconds",
            "How far the scheduler is behind: now minus the oldest overdue fire time of an enabled schedule "
            "(0 when none).",
        )
        lag.add_metric([], max(overdue.total_seconds(), 0.0) if overdue is not None else 0.0)
        status = scheduler_status()
        up = GaugeMetricFamily("jobs_scheduler_up", "1 when the scheduler's heartbeat is fresh, else 0.")
        up.add_metric([], 1.0 if status.get("ok") else 0.0)
        yield from (lag, up)


def jobs_registry() -> CollectorRegistry:
    """A registry with the engine's collector only (not this web process's own figures)."""
    metrics = CollectorRegistry(auto_describe=False)
    metrics.register(JobsCollector())
    return metrics
