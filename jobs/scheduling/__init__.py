"""Periodic jobs: schedules kept in the database, fired exactly once per fire time by APScheduler.

``models`` (Schedule, ScheduleRun), ``triggers`` (cron and interval rules), ``services`` (writes,
including the exactly-once firing), ``selectors`` (reads), ``lock`` (the leader lease in Redis),
``runner`` (the scheduler process), ``actors`` (the health check), and the API and admin.
"""
