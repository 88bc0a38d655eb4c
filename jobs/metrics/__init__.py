"""Metrics over time: per queue and per actor throughput, failures and wait/run time percentiles,
kept as rollups (per minute for a day, per hour for 90 days) that outlive the jobs they count.

- ``histogram``: the fixed log-scale buckets that let rollups merge exactly.
- ``models``: ``MetricRollup``, one row per (resolution, bucket, queue, actor).
- ``services``: the writer (``metrics_rollup``), run every minute by the ``jobs.metrics_rollup`` actor.
- ``selectors``: series and breakdowns for the Metrics page and the API.
"""
