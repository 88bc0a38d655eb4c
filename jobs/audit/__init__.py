"""Audit trail: one row per operator action (retry, cancel, purge, pause, limit change, schedule
edit, re-run, ...), with who, when, what and how many jobs.

``models`` (AuditEntry), ``services`` (``audit_record``, the only writer). Every service that acts
on an operator's behalf calls ``audit_record`` in the same transaction as the action itself, so an
action and its audit row commit or roll back together.
"""
