"""PostgreSQL through PgBouncer in transaction pooling mode: a real worker, scheduler and submitter.

In transaction mode consecutive transactions of one client may run on different server
connections, so nothing may rely on session state: session ``SET``, advisory locks held across
transactions, server-side prepared statements, ``WITH HOLD`` cursors, ``LISTEN``. The test makes
many clients share four server connections, runs the engine's paths (claim, success, failure and
retry, bulk retry, scheduling) and then reads pg_stat_statements for any such statement; a control
run without DATABASE_TRANSACTION_POOLING shows that the check finds one (Django's WITH HOLD cursor).
"""

import re

import pytest

from tests.multihost.bed import TEMPLATE_DB, pgbouncer_unavailable_reason
from tests.multihost.conftest import SKIP_REASONS
from tests.multihost.services import PgBouncer

pytestmark = pytest.mark.multihost
POOL_SIZE = 4
SESSION_STATE = re.compile(
    r"^\s*(SET\s+(?!LOCAL\b|TRANSACTION\b)|RESET\b|PREPARE\b|DECLARE\b|LISTEN\b)|WITH\s+HOLD|pg_(try_)?advisory_lock\b",
    re.IGNORECASE,
)
POOLED_ENV = {"DATABASE_TRANSACTION_POOLING": "true", "SCHEDULER_LEASE_SECONDS": "4", "SCHEDULER_SYNC_INTERVAL": "1"}


@pytest.fixture
def pgbouncer(bed):
    reason = pgbouncer_unavailable_reason()
    if reason:
        SKIP_REASONS.append(reason)
        pytest.skip(f"!!! {reason} !!!")
    bouncer = PgBouncer(root=bed.root, namespace=bed.network.services, address="10.77.0.1", cluster=bed.postgres)
    bouncer.start(pool_size=POOL_SIZE)
    yield bouncer
    bouncer.stop()


def _session_state_statements(sc, database: str) -> list[str]:
    rows = sc.bed.postgres.query(
        database,
        "SELECT query FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
        [database],
    )
    return [query for (query,) in rows if SESSION_STATE.search(query)]


def test_a_worker_scheduler_and_submitter_through_pgbouncer_in_transaction_mode(bed, pgbouncer, report):
    with bed.scenario("pgbouncer", env=POOLED_ENV) as sc:
        for host in sc.hosts.values():
            host.base_env["DATABASE_URL"] = pgbouncer.url(sc.database)
        sc.bed.postgres.query(sc.database, "SELECT pg_stat_statements_reset()")
        sc.hosts["h1"].run_worker(processes=2, threads=8)
        sc.hosts["h2"].run_scheduler()
        sc.wait_workers(["h1"], processes=2)
        submit = sc.hosts["h3"].agent
        ok = submit("submit", {"count": 500})["ids"]
        once = submit("submit", {"count": 50, "kwargs": {"fail_attempts": 1}})["ids"]
        dead = submit("submit", {"count": 20, "kwargs": {"fail_attempts": 99}})["ids"]
        schedule_id = submit("schedule", {"name": "pooled", "interval_seconds": 1})["id"]
        sc.wait_all_finished(570, timeout=180)
        retried = submit("retry_failed", {"actor": "mh.effect"})["retried"]  # QuerySet.iterator()
        sc.wait_for(lambda: sc.scalar("SELECT count(*) FROM jobs_schedulerun") >= 5, timeout=60, what="5 fires")
        submit("pause_schedule", {"id": schedule_id})
        statuses = dict(sc.sql("SELECT id::text, status FROM jobs_job WHERE actor_name = 'mh.effect'"))
        sc.wait_for(
            lambda: sc.scalar("SELECT count(*) FROM jobs_job WHERE status NOT IN ('succeeded', 'failed')") == 0,
            timeout=120,
            what="every job to finish",
        )
        clients = pgbouncer.admin("SHOW CLIENTS")
        servers = pgbouncer.admin("SHOW SERVERS")
        stats = {row["database"]: row for row in pgbouncer.admin("SHOW STATS")}[sc.database]
        found = _session_state_statements(sc, sc.database)
        attempts = dict(sc.sql("SELECT id::text, attempts FROM jobs_job WHERE actor_name = 'mh.effect'"))

        # Control: the bulk retry straight to PostgreSQL without the setting declares a server-side
        # cursor (WITH HOLD outside a transaction), which the check must see.
        control_db = "wt_multihost_pgbouncer_control"
        bed.postgres.execute_admin(f"DROP DATABASE IF EXISTS {control_db}")
        bed.postgres.execute_admin(f"CREATE DATABASE {control_db} TEMPLATE {TEMPLATE_DB}")
        submit(
            "retry_failed",
            {"actor": "mh.effect"},
            env={"DATABASE_URL": bed.postgres.url(control_db), "DATABASE_TRANSACTION_POOLING": "false"},
        )
        control = _session_state_statements(sc, control_db)

        assert all(statuses[job] == "succeeded" for job in ok + once)
        assert all(attempts[job] == 2 for job in once)
        assert retried == len(dead) and all(attempts[job] == 8 for job in dead), "bulk retry through PgBouncer"
        mine = [c for c in clients if c["database"] == sc.database]
        assert len(mine) > POOL_SIZE, f"only {len(mine)} clients: nothing was multiplexed"
        assert len([s for s in servers if s["database"] == sc.database]) <= POOL_SIZE
        assert not found, f"statements that rely on session state: {found}"
        assert any("DECLARE" in query.upper() for query in control), f"the check found nothing: {control}"

    report(
        f"PgBouncer (transaction mode, {POOL_SIZE} server connections): {len(mine)} client connections (2 worker "
        f"processes x 8 threads, a scheduler, submitters); {len(ok) + len(once)} jobs succeeded, {len(once)} after "
        f"a failure, {len(dead)} failed, bulk-retried and failed again; {stats['total_xact_count']} transactions; "
        "no session-state statement in pg_stat_statements (control without DATABASE_TRANSACTION_POOLING: "
        f"{len(control)} found)"
    )
