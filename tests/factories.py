import factory
from django.utils import timezone

from jobs.models import Job, JobStatus


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    actor_name = "echo"
    queue_name = "default"
    status = JobStatus.QUEUED
    status_changed_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
    max_attempts = 4
