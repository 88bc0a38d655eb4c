#!/usr/bin/env python
"""Documents per second through the whole pipeline against the extraction libraries called directly.

1,000 mixed documents (15 formats with a text layer, each file distinct) are made first. Then, in
the same run:
- direct: one process calls the same extractor functions (pypdfium2, python-docx, openpyxl, …)
  on every file, in a loop: no detection, no hashing, no database, no queue, no isolation;
- pipeline: the files are ingested (stored under their SHA-256, a Document row and a tracked job
  each) while a real worker (run_worker, queue "documents") detects, checks and extracts each one
  in its isolated child and stores text, metadata and the search vector; timed from the first
  ingest to the last document finished.
Per-document overhead = pipeline seconds per document − direct seconds per document. It uses a
PostgreSQL database and Redis namespace of its own and removes both at the end. OCR is left out
(it is Tesseract's time either way).

    .venv/bin/python bench/documents.py [--documents 1000] [--threads 1]
"""

import argparse
import io
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throughput import (  # noqa: E402
    REDIS_URL,
    RUN_ID,
    cleanup_namespace,
    exit_on_sigterm,
    pg_admin,
    start_worker,
    stop_worker,
)

DB_NAME = f"bench_docs_{RUN_ID}"
NAMESPACE = f"bench-docs-{RUN_ID}"
ZIP_KINDS = {"docx", "xlsx", "pptx", "odt", "ods"}


def distinct(kind: str, data: bytes, index: int) -> bytes:
    """The sample made unique (its own SHA-256) in a way its format allows."""
    from tests.documents import samples

    tag = f"bench document {index}"
    if kind in ZIP_KINDS:
        out = io.BytesIO(data)
        with zipfile.ZipFile(out, "a") as archive:
            archive.comment = tag.encode()
        return out.getvalue()
    if kind == "pdf":
        return samples.pdf_bytes(f"{samples.phrase('pdf')} {tag}")
    if kind in ("csv", "tsv", "markdown", "txt"):
        separator = "\t" if kind == "tsv" else ","
        return data + f"{tag}{separator}{index}\n".encode()
    replacements = {
        "html": (b"</body>", f"<p>{tag}</p></body>".encode()),
        "xml": (b"</catalog>", f"<item>{tag}</item></catalog>".encode()),
        "json": (b"}]}", f'}}, {{"tag": "{tag}"}}]}}'.encode()),
        "eml": (b"Hello Charles,", f"Hello Charles, {tag}".encode()),
        "rtf": (b"\\par}", f"\\par {tag}\\par}}".encode()),
    }
    old, new = replacements[kind]
    assert old in data, kind
    return data.replace(old, new, 1)


def make_documents(folder: Path, count: int) -> list[tuple[Path, str]]:
    from tests.documents import samples

    templates = [(name, make(), mime, kind) for name, make, mime, kind, _ in samples.FORMATS]
    files = []
    for index in range(count):
        name, data, mime, kind = templates[index % len(templates)]
        path = folder / f"{index:05d}-{name}"
        path.write_bytes(distinct(kind, data, index))
        files.append((path, mime))
    return files


def run_direct(files) -> float:
    """Seconds for the extractor functions alone, one process, one file after another."""
    from documents.extractors import get_extractor
    from documents.extractors.base import Limits

    limits = Limits()
    started = time.perf_counter()
    for path, mime in files:
        extraction = get_extractor(mime)(str(path), mime_type=mime, limits=limits)
        assert extraction.text, path
    return time.perf_counter() - started


def run_pipeline(files, *, processes: int, threads: int, storage: Path) -> tuple[float, dict]:
    from django.db.models import Count

    from documents.models import Document
    from documents.services import document_receive
    from jobs.models import Worker

    env = {
        **os.environ,
        "DOCUMENTS_UPLOAD_DIR": str(storage),
        "JOBS_WORKER_TIMEOUT_MS": "50",
        "LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "manage.py", "run_worker", "-p", str(processes), "-t", str(threads), "-Q", "documents"]
    worker = start_worker(argv, env, f"documents-{processes}x{threads}")
    try:
        deadline = time.monotonic() + 60
        while Worker.objects.filter(stopped_at__isnull=True).count() < processes:
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not start; see var/bench-logs")
            time.sleep(0.2)
        started = time.perf_counter()
        for path, _ in files:
            with open(path, "rb") as handle:
                document_receive(stream=handle, original_name=path.name[6:], source="import")
        total = len(files)
        deadline = time.monotonic() + 1800
        while Document.objects.filter(processed_at__isnull=False).exclude(status="processing").count() < total:
            if time.monotonic() > deadline:
                raise SystemExit("the documents were not all processed in 30 minutes")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        statuses = dict(Document.objects.values_list("status").annotate(n=Count("id")).order_by())
        return elapsed, statuses
    finally:
        stop_worker(worker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="worker threads (1: like for like with direct)")
    args = parser.parse_args()
    exit_on_sigterm()

    pg_admin(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "DRAMATIQ_NAMESPACE": NAMESPACE,
            "LOG_LEVEL": "WARNING",
        }
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-documents-"))
    storage = workdir / "stored"
    os.environ["DOCUMENTS_UPLOAD_DIR"] = str(storage)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import connections

    redis_client = redis.Redis.from_url(REDIS_URL)
    try:
        call_command("migrate", verbosity=0)
        source = workdir / "source"
        source.mkdir()
        files = make_documents(source, args.documents)
        size = sum(path.stat().st_size for path, _ in files)
        where = f"PostgreSQL + Redis on loopback; {os.cpu_count()} cores"
        print(f"{len(files)} documents, 15 formats, {size / 1e6:.1f} MB; {where}")
        direct = run_direct(files)
        pipeline, statuses = run_pipeline(files, processes=args.processes, threads=args.threads, storage=storage)
        n = len(files)
        print(f"{'direct (extractors in one process)':<44} {n / direct:>9.1f} docs/s {1000 * direct / n:>8.2f} ms/doc")
        label = f"pipeline (ingest → processed, {args.processes}x{args.threads})"
        print(f"{label:<44} {n / pipeline:>9.1f} docs/s {1000 * pipeline / n:>8.2f} ms/doc")
        print(f"ratio pipeline / direct: {direct / pipeline:.2f}")
        print(f"per-document overhead: {1000 * (pipeline - direct) / n:.2f} ms (target under 20 ms)")
        print(f"statuses: {statuses}")
    finally:
        connections.close_all()
        cleanup_namespace(redis_client, NAMESPACE)
        pg_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
