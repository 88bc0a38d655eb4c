from django.apps import AppConfig
from django.db.backends.signals import connection_created


def register_sqlite_functions(sender, connection, **kwargs):
    """SQLite has no regular expressions of its own: rules run through ``monitoring_regexp``."""
    if connection.vendor != "sqlite":
        return
    from monitoring.sqlite import regexp

    connection.connection.create_function("monitoring_regexp", 2, regexp, deterministic=True)


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"

    def ready(self):
        connection_created.connect(register_sqlite_functions, dispatch_uid="monitoring_sqlite_functions")
