"""The fault suite of issue 9: real supervisors, PostgreSQL and Redis, faults injected from outside.

Sizes come from ``CHAOS_SCALE``: ``short`` (the default, run by ``make test``) or ``full``
(``make chaos``). Each scenario adds one line of figures to the summary printed at the end of the
run (and to var/test-logs/chaos/report.txt), whether its acceptance held or not.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests import summary
from tests.chaos.harness import Scenario
from tests.chaos.infra import PostgresServer, database_name
from tests.chaos.sweep import new_run_id, sweep_stale_runs

SCALE = os.environ.get("CHAOS_SCALE", "short")
if SCALE not in ("short", "full"):
    raise pytest.UsageError(f"CHAOS_SCALE must be short or full, not {SCALE!r}")
RUN_ID = new_run_id(uuid.uuid4().hex[:4])
LOG_DIR = Path(settings.BASE_DIR) / "var" / "test-logs" / "chaos"
REPORT_LINES: list[str] = []
SKIPPED: list[str] = []


def scaled(*, short, full):
    return full if SCALE == "full" else short


def _summary():
    if not REPORT_LINES and not SKIPPED:
        return None
    lines = [(line, {"red": True, "bold": True}) for line in SKIPPED]
    lines += [(line, {}) for line in sorted(REPORT_LINES)]  # (a) to (g), whatever order the tests ran in
    return (f"fault suite (issue 9), CHAOS_SCALE={SCALE}", lines)


def pytest_sessionfinish(session):
    summary.hand_to_controller(session.config, _summary())


def pytest_terminal_summary(terminalreporter):
    summary.write_here(terminalreporter, _summary())


class ChaosWorld:
    """What the scenarios of one run share: the machine's PostgreSQL and the effects Redis."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.effects_url = settings.REDIS_URL
        self.effects = redis.Redis.from_url(self.effects_url)
        self.postgres = PostgresServer(
            database_url, prefix=f"{database_name(database_url)}_chaos_{RUN_ID}", log_dir=LOG_DIR
        )

    def delete_keys(self, client: redis.Redis, pattern: str) -> None:
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


@pytest.fixture(scope="session")
def chaos_world():
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        reason = (
            "!!! FAULT SUITE SKIPPED: it needs PostgreSQL (DATABASE_URL=postgres://...); "
            "the database is SQLite here !!!"
        )
        SKIPPED.append(reason)
        pytest.skip(reason)
    world = ChaosWorld(database_url)
    # Effects are stamped with the effects Redis's clock and compared with this process's clock.
    seconds, micros = world.effects.time()
    drift = abs(seconds + micros / 1e6 - time.time())
    if drift > 0.05:
        pytest.fail(f"the effects Redis at {world.effects_url} is not on this host's clock (off by {drift:.3f} s)")
    shutil.rmtree(LOG_DIR, ignore_errors=True)  # the logs of the last run only
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "report.txt").write_text("")
    swept = sweep_stale_runs(postgres=world.postgres, base_name=database_name(database_url), effects=world.effects)
    if swept:
        (LOG_DIR / "swept.txt").write_text("\n".join(swept) + "\n")
    try:
        yield world
    finally:
        world.postgres.drop_all()
        world.delete_keys(world.effects, f"chaos:{RUN_ID}:*")
        world.delete_keys(world.effects, f"chaos-{RUN_ID}-*")


@pytest.fixture
def scenario(chaos_world):
    """``scenario(tag, broker_url=..., postgres=...)``: a Scenario torn down after the test."""
    made: list[tuple[Scenario, PostgresServer]] = []

    def make(tag: str, *, broker_url: str | None = None, postgres: PostgresServer | None = None) -> Scenario:
        server = postgres or chaos_world.postgres
        database_url = server.create(tag)
        try:
            world = Scenario(
                tag,
                run_id=RUN_ID,
                database_url=database_url,
                broker_url=broker_url or chaos_world.effects_url,
                effects_url=chaos_world.effects_url,
                log_dir=LOG_DIR,
            )
        except Exception:
            server.drop(database_url)
            raise
        made.append((world, server))
        return world

    yield make
    for world, server in made:
        try:
            world.close()
        finally:
            server.drop(world.database_url)
            chaos_world.delete_keys(chaos_world.effects, f"{world.namespace}*")


@pytest.fixture
def report():
    """``report(tag, text)``: the scenario's one line for the summary."""

    def add(tag: str, text: str) -> None:
        line = f"({tag}) {text}"
        REPORT_LINES.append(line)
        with open(LOG_DIR / "report.txt", "a") as out:
            out.write(line + "\n")

    return add
