"""Declaring tracked actors: ``@job_actor`` wraps ``dramatiq.actor`` with the engine's options.

Queue, retry policy, time limits and permanent exceptions are declared on the actor, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dramatiq

from jobs.errors import JobCancelled, PermanentError
from jobs.retry import DEFAULT_POLICY, RetryPolicy

QUEUES = ("default", "scans", "reports", "documents", "maintenance")

DEFAULT_SOFT_TIME_LIMIT = 25 * 60
DEFAULT_TIME_LIMIT = 30 * 60


@dataclass(frozen=True)
class ActorSpec:
    name: str
    queue_name: str
    retry: RetryPolicy
    soft_time_limit: float
    time_limit: float
    permanent: tuple[type[BaseException], ...] = field(default=())
    abortable: bool = False
    description: str = ""

    def is_permanent(self, exc: BaseException) -> bool:
        return isinstance(exc, (PermanentError, *self.permanent))

    def describe(self) -> dict:
        return {
            "name": self.name,
            "queue": self.queue_name,
            "retry_policy": self.retry.describe(),
            "soft_time_limit": self.soft_time_limit,
            "time_limit": self.time_limit,
            "permanent_errors": [f"{e.__module__}.{e.__qualname__}" for e in (PermanentError, *self.permanent)],
            "abortable": self.abortable,
            "description": self.description,
        }


_specs: dict[str, ActorSpec] = {}


class TrackedActor(dramatiq.Actor):
    """A Dramatiq actor whose ``submit`` goes through the job engine (a tracked ``Job`` row)."""

    def submit(self, *args, **kwargs):
        from jobs.services import submit

        return submit(self.actor_name, *args, **kwargs)


def job_actor(
    fn=None,
    *,
    actor_name: str | None = None,
    queue_name: str = "default",
    retry: RetryPolicy = DEFAULT_POLICY,
    soft_time_limit: float = DEFAULT_SOFT_TIME_LIMIT,
    time_limit: float = DEFAULT_TIME_LIMIT,
    permanent: tuple[type[BaseException], ...] = (),
    abortable: bool = False,
):
    """Declare a tracked actor. Time limits are in seconds; ``permanent`` exceptions never retry."""

    def decorate(func):
        name = actor_name or func.__name__
        spec = ActorSpec(
            name=name,
            queue_name=queue_name,
            retry=retry,
            soft_time_limit=soft_time_limit,
            time_limit=time_limit,
            permanent=tuple(permanent),
            abortable=abortable,
            description=(func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else "",
        )
        _specs[name] = spec
        return dramatiq.actor(
            func,
            actor_class=TrackedActor,
            actor_name=name,
            queue_name=queue_name,
            time_limit=int(time_limit * 1000),
            # Expected exceptions are logged at INFO by the worker, not as errors.
            throws=(JobCancelled, PermanentError, *permanent),
        )

    return decorate(fn) if fn is not None else decorate


def get_spec(name: str) -> ActorSpec | None:
    return _specs.get(name)


def actor_names() -> list[str]:
    return sorted(_specs)


def all_specs() -> list[ActorSpec]:
    return [_specs[n] for n in actor_names()]
