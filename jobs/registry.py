"""Declaring tracked actors: ``@job_actor`` wraps ``dramatiq.actor`` with the engine's options.

Queue, retry policy, time limits, permanent exceptions and visibility are declared on the actor, once.
A ``public`` actor may be submitted by staff through the API, the dashboard and schedules; an
``internal`` one (maintenance, the steps of a report) only by the platform itself: its arguments
are the platform's to choose (``jobs.prune`` with ``older_than_days=-1`` deletes every finished job).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import dramatiq

from jobs.errors import JobCancelled, PermanentError
from jobs.retry import DEFAULT_POLICY, RetryPolicy

QUEUES = ("default", "scans", "reports", "documents", "maintenance")

DEFAULT_SOFT_TIME_LIMIT = 25 * 60
DEFAULT_TIME_LIMIT = 30 * 60

PUBLIC = "public"
INTERNAL = "internal"
VISIBILITIES = (PUBLIC, INTERNAL)


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
    visibility: str = PUBLIC
    fn: Callable | None = field(default=None, compare=False, repr=False)

    @property
    def internal(self) -> bool:
        return self.visibility == INTERNAL

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
            "visibility": self.visibility,
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
    visibility: str = PUBLIC,
):
    """Declare a tracked actor. Time limits are in seconds; ``permanent`` exceptions never retry;
    ``visibility="internal"`` keeps it out of the API's, the dashboard's and schedules' reach."""
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}, not {visibility!r}")

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
            visibility=visibility,
            fn=func,
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


def public_actor_names() -> list[str]:
    """The actors that users may submit or schedule."""
    return [name for name in actor_names() if not _specs[name].internal]
