import os
from importlib import import_module

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Job engine"

    def ready(self):
        import dramatiq

        from jobs import retention
        from jobs.clock import install_clock_offset

        retention.policy()  # a bad JOBS_RETENTION or JOBS_RESULT_TTL stops the process here, not at 4 am

        install_clock_offset()  # tests only: a host whose clock is wrong

        from jobs.registry import QUEUES

        broker = dramatiq.get_broker()
        for queue in QUEUES:
            broker.declare_queue(queue)
        # Every process (web, worker, scheduler) knows every actor: the API validates names.
        autodiscover_modules("actors")
        import jobs.alerts.actors  # noqa: F401
        import jobs.metrics.actors  # noqa: F401
        import jobs.scheduling.actors  # noqa: F401

        for module in filter(None, os.environ.get("JOBS_EXTRA_ACTOR_MODULES", "").split(",")):
            import_module(module.strip())
