"""Alerts: rules evaluated every minute by the scheduler, alerts that open, stay open while their
condition holds and resolve, and one notification per alert change (email, webhook).

``models`` (AlertRule, Alert, AlertNotification), ``kinds`` (what each kind of rule checks, and its
parameters), ``services`` (evaluation and rule edits, the only writers), ``delivery`` (sending one
notification), ``selectors``, ``actors`` (``alerts.evaluate``, ``alerts.deliver``), ``apis``,
``views``.
"""
