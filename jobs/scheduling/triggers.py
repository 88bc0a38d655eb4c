"""Cron and interval rules of a schedule, as APScheduler triggers.

Cron expressions are the standard five fields with the standard meaning. APScheduler 3 numbers
weekdays from Monday = 0 (crontab: Sunday = 0, upstream issue 286) and combines day-of-month and
day-of-week with AND (crontab: OR); the weekday field is therefore rewritten to names, and an
expression that restricts both day fields is refused rather than run with a surprising meaning.

Intervals are aligned to the Unix epoch: every 60 s fires at the start of each minute, whichever
process computes it, so two schedulers always agree on the fire times.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEKDAY_PART = re.compile(r"^(?P<range>\*|(?P<first>\w+)(?:-(?P<last>\w+))?)(?:/(?P<step>\d+))?$")


class TriggerError(ValueError):
    """A cron expression, interval or time zone that cannot make a schedule; names its field."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" names a folder of zones
        raise TriggerError("timezone", f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)") from None


def _weekday(token: str) -> int:
    if token.isdigit():
        number = int(token)
        if not 0 <= number <= 7:
            raise TriggerError("cron", f"day of week {number} is out of range 0-7")
        return number % 7
    try:
        return WEEKDAY_NAMES.index(token.lower())
    except ValueError:
        raise TriggerError("cron", f"invalid day of week {token!r}") from None


def _weekdays(field: str) -> str:
    """Crontab day-of-week field → APScheduler names (``1-5`` → ``mon,tue,wed,thu,fri``)."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        match = _WEEKDAY_PART.match(part)
        if not match:
            raise TriggerError("cron", f"invalid day of week {part!r}")
        step = int(match["step"] or 1)
        if step < 1:
            raise TriggerError("cron", "a step must be 1 or more")
        if match["range"] == "*":
            first, last = 0, 6
        else:
            first = _weekday(match["first"])
            # "7" closes a range as Sunday at its end: 5-7 is Friday to Sunday.
            last_token = match["last"]
            if last_token is None:
                last = 6 if match["step"] else first
            else:
                last = 7 if last_token == "7" else _weekday(last_token)
            if last < first:
                raise TriggerError("cron", f"day-of-week range {part!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    if len(days) == 7:
        return "*"
    return ",".join(WEEKDAY_NAMES[day] for day in sorted(days))


def cron_trigger(expression: str, tz: str = "UTC") -> CronTrigger:
    """A trigger for a five-field crontab expression; raises TriggerError naming the reason."""
    zone = parse_timezone(tz)
    fields = str(expression or "").split()
    if len(fields) != 5:
        raise TriggerError("cron", f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise TriggerError(
            "cron",
            "restrict either the day of month or the day of week, not both "
            "(crontab would run on either, this scheduler on both)",
        )
    try:
        trigger = CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=_weekdays(weekday), timezone=zone
        )
    except TriggerError:
        raise
    except ValueError as exc:
        raise TriggerError("cron", str(exc)) from None
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        raise TriggerError("cron", "the expression never fires")
    return trigger


MAX_INTERVAL_SECONDS = 366 * 86400  # a longer period is a cron expression's job; much longer overflows dates


def interval_trigger(seconds, tz: str = "UTC") -> IntervalTrigger:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 < seconds <= MAX_INTERVAL_SECONDS:
        raise TriggerError(
            "interval_seconds", f"must be a whole number of seconds from 1 to {MAX_INTERVAL_SECONDS}, got {seconds!r}"
        )
    return IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=parse_timezone(tz))


def build_trigger(*, cron: str = "", interval_seconds=None, tz: str = "UTC") -> BaseTrigger:
    """The trigger of a schedule: exactly one of ``cron`` and ``interval_seconds``."""
    if cron and interval_seconds is not None:
        raise TriggerError("cron", "give either cron or interval_seconds, not both")
    if cron:
        return cron_trigger(cron, tz)
    if interval_seconds is None:
        raise TriggerError("cron", "give either cron (5 fields) or interval_seconds")
    return interval_trigger(interval_seconds, tz)


def trigger_of(schedule) -> BaseTrigger:
    return build_trigger(cron=schedule.cron, interval_seconds=schedule.interval_seconds, tz=schedule.timezone)


def next_fire_after(trigger: BaseTrigger, moment: datetime) -> datetime | None:
    """The first fire time strictly after ``moment``, in UTC."""
    fire = trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
    return fire.astimezone(UTC) if fire else None


def upcoming_fire_times(trigger: BaseTrigger, *, count: int = 5, now: datetime | None = None) -> list[datetime]:
    times: list[datetime] = []
    moment = now or datetime.now(UTC)
    fire = trigger.get_next_fire_time(None, moment)
    while fire is not None and len(times) < count:
        times.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire)
    return times


def first_run_time(trigger: BaseTrigger, *, recorded_next: datetime | None, now: datetime) -> datetime | None:
    """Where a scheduler that (re)loads a schedule starts it.

    APScheduler with a fresh memory job store knows nothing of runs missed while no scheduler was
    active; the database's ``next_run_at`` does. A recorded time in the past is a missed fire: the
    schedule starts there, and APScheduler's coalescing and misfire grace decide what runs.
    A recorded time in the future is ignored in favour of the trigger, which may have changed.
    """
    upcoming = trigger.get_next_fire_time(None, now)
    if recorded_next is not None and recorded_next <= now:
        missed = trigger.get_next_fire_time(None, recorded_next)
        if missed is not None and missed <= now:
            return missed.astimezone(UTC)
    return upcoming.astimezone(UTC) if upcoming else None


def describe(*, cron: str = "", interval_seconds=None) -> str:
    """The rule in words: "Every 5 minutes", "Every 30 seconds"."""
    if cron:
        try:
            from cron_descriptor import Options, get_description

            options = Options()
            options.use_24hour_time_format = True
            return get_description(cron, options)
        except Exception:
            return cron
    if interval_seconds:
        return f"Every {_duration(int(interval_seconds))}"
    return ""


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}s" if count != 1 else unit
    return f"{seconds} seconds" if seconds != 1 else "second"
