#!/usr/bin/env python
"""Benchmark of the store uptime report on PostgreSQL: import, then report, for 14,000 generated stores.

    .venv/bin/python bench/store_report.py [--stores 14000] [--data DIR] [--postgres URL]

Creates its own database ``bench_store_<pid>`` on the server of ``--postgres`` (default
``postgres://postgres@127.0.0.1:5432/postgres``, or BENCH_POSTGRES_URL), migrates it, imports the
generated CSVs (timed), computes the report from the database and writes its CSV (timed), prints
the figures against the targets, and drops the database again, whatever happened. Each phase
runs in a process of its own, so that its peak memory (max RSS) is its own.

Targets: import < 30 s, report < 10 s (read, compute, write the CSV), peak memory < 1 GB.
Data come from bench/store_data_gen.py, a copy of shared/tools/store_data_gen.py (STORE_DATA_GEN to point elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
GENERATOR = Path(os.environ.get("STORE_DATA_GEN", BASE_DIR / "bench" / "store_data_gen.py"))
TARGETS = {"import_seconds": 30.0, "report_seconds": 10.0, "peak_mb": 1024.0}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# --- Phases (each in a child process, with DATABASE_URL pointing at the bench database) ------------


def _django():
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def phase_migrate(args) -> dict:
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return {}


def phase_import(args) -> dict:
    _django()
    from reports import services

    started = time.perf_counter()
    result = services.store_data_import_directory(directory=args.data)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": peak_mb(), "files": result.files}


def phase_report(args) -> dict:
    _django()
    from reports import files, services
    from reports.models import Report

    # A report row without a job: the benchmark computes it in this process, nothing goes to Redis.
    report = Report.objects.create(kind="store_uptime")
    started = time.perf_counter()
    services.store_report_generate(report_id=report.id)
    seconds = time.perf_counter() - started
    report.refresh_from_db()
    if report.status != "COMPLETE":
        raise SystemExit(f"report failed: {report.error}")
    metadata = files.read_json(report.metadata_file)
    violations = 0
    with open(files.path_of(report.csv_file)) as handle:
        next(handle)
        for line in handle:
            values = [float(v) for v in line.rstrip("\n").split(",")[1:]]
            for up, down, total in zip(values[:3], values[3:], (60, 24, 168), strict=True):
                violations += not (up >= 0 and down >= 0 and up + down <= total + 1e-9)
    return {
        "seconds": seconds,
        "peak_mb": peak_mb(),
        "rows": report.row_count,
        "timings": metadata["timings_seconds"],
        "counts": metadata["counts"],
        "now": metadata["now"],
        "invariant_violations": violations,
    }


PHASES = {"migrate": phase_migrate, "import": phase_import, "report": phase_report, "reimport": phase_import}


# --- The driver -----------------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_connection(url: str):
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    return connection


def run_phase(phase: str, *, database_url: str, data: Path, reports_dir: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REPORTS_DIR": str(reports_dir),
        "DRAMATIQ_NAMESPACE": f"bench-store-{os.getpid()}",
        "LOG_LEVEL": "WARNING",
    }
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--data", str(data)],
        env=env,
        cwd=BASE_DIR,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def generate(stores: int, directory: Path) -> None:
    if not GENERATOR.is_file():
        raise SystemExit(f"store data generator not found at {GENERATOR}; set STORE_DATA_GEN or pass --data")
    command = [sys.executable, str(GENERATOR), "--stores", str(stores), "--out", str(directory)]
    subprocess.run(command, check=True, capture_output=True)


def verdict(value: float, target: float) -> str:
    return "ok" if value < target else "MISSED"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=14_000)
    parser.add_argument("--data", type=Path, help="use these CSVs instead of generating them")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a URL of the server (its database is only used to create and drop the bench database)",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.phase:  # a child: run one phase, print its figures as JSON on the last line
        print(json.dumps(PHASES[args.phase](args)))
        return 0

    name = f"bench_store_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="bench-store-") as temporary:
        temporary = Path(temporary)
        data = args.data
        if data is None:
            data = temporary / "data"
            print(f"generating {args.stores:,} stores …", flush=True)
            generate(args.stores, data)
        manifest = json.loads((data / "manifest.json").read_text()) if (data / "manifest.json").exists() else {}
        admin = admin_connection(args.postgres)
        with admin.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server = cursor.fetchone()[0]
            cursor.execute(f'CREATE DATABASE "{name}"')
        try:
            url = with_database(args.postgres, name)
            run_phase("migrate", database_url=url, data=data, reports_dir=temporary / "reports")
            imported = run_phase("import", database_url=url, data=data, reports_dir=temporary / "reports")
            reported = run_phase("report", database_url=url, data=data, reports_dir=temporary / "reports")
            again = run_phase("reimport", database_url=url, data=data, reports_dir=temporary / "reports")
        except subprocess.CalledProcessError as exc:
            print(exc.stderr, file=sys.stderr)
            raise
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

    polls = next(f for f in imported["files"] if f["file"] == "store_status.csv")
    peak = max(imported["peak_mb"], reported["peak_mb"])
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in reported["timings"].items() if k != "total")
    print(
        f"store report benchmark: {reported['rows']:,} stores, {polls['rows']:,} poll rows "
        f"({manifest.get('rows', {}).get('menu_hours', '?')} hours rows), PostgreSQL {server}, "
        f"database {name} (dropped)"
    )
    print(
        f"import  {imported['seconds']:6.2f} s   target < {TARGETS['import_seconds']:.0f} s   "
        f"{verdict(imported['seconds'], TARGETS['import_seconds'])}   peak RSS {imported['peak_mb']:.0f} MB"
    )
    for item in imported["files"]:
        print(f"          {item['file']}: {item['seconds']:.2f} s to load after reading")
    print(
        f"report  {reported['seconds']:6.2f} s   target < {TARGETS['report_seconds']:.0f} s   "
        f"{verdict(reported['seconds'], TARGETS['report_seconds'])}   peak RSS {reported['peak_mb']:.0f} MB"
        f"   ({timings})"
    )
    print(f"peak    {peak:6.0f} MB  target < {TARGETS['peak_mb']:.0f} MB  {verdict(peak, TARGETS['peak_mb'])}")
    new_again = next(f for f in again["files"] if f["file"] == "store_status.csv")["new_polls"]
    print(
        f"the same files imported again (no target): {again['seconds']:.2f} s, peak RSS {again['peak_mb']:.0f} MB, "
        f"{new_again} new polls"
    )
    print(f"now {reported['now']}; invariant violations in the CSV: {reported['invariant_violations']}")
    missed = (
        imported["seconds"] >= TARGETS["import_seconds"]
        or reported["seconds"] >= TARGETS["report_seconds"]
        or peak >= TARGETS["peak_mb"]
        or reported["invariant_violations"]
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
