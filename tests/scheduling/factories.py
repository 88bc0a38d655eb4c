import factory

from jobs.scheduling.models import OverlapPolicy, Schedule


class ScheduleFactory(factory.django.DjangoModelFactory):
    """A valid schedule row, written directly (tests of the services go through the services)."""

    class Meta:
        model = Schedule

    name = factory.Sequence(lambda n: f"schedule {n}")
    actor_name = "echo"
    interval_seconds = 60
    overlap = OverlapPolicy.ALLOW
