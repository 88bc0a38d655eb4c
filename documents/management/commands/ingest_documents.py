"""Import files or folders once, with a progress bar; new documents are processed by the workers.

python manage.py ingest_documents PATH [PATH ...] [--no-batch] [--wait]
"""

import os
import time
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from documents.models import Document, DocumentSource
from documents.services import batch_create, batch_submit, document_receive
from documents.services.intake import batch_add
from jobs.errors import PayloadTooLarge


def collect_files(paths) -> list[Path]:
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(Path(root) / name for name in sorted(names) if not name.startswith("."))
        else:
            raise CommandError(f"{raw} is neither a file nor a folder.")
    return files


class Command(BaseCommand):
    help = "Imports files or folders once (each distinct content becomes one document), with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--no-batch", action="store_true", help="One job per document, no batch")
        parser.add_argument("--wait", action="store_true", help="Wait until every new document is processed")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *, paths, no_batch, wait, no_progress, **options):
        files = collect_files(paths)
        if not files:
            raise CommandError("No files found.")
        outcome = Counter()
        new_ids = []
        batch = None
        with transaction.atomic():
            if not no_batch:
                batch = batch_create(source=DocumentSource.IMPORT, folder=str(Path(paths[0]).resolve()))
            for path in tqdm(files, desc="Importing", unit="file", disable=no_progress):
                try:
                    with open(path, "rb") as handle:
                        received = document_receive(
                            stream=handle,
                            original_name=path.name,
                            source=DocumentSource.IMPORT,
                            source_path=str(path.resolve()),
                            batch=batch,
                            submit=batch is None,
                        )
                except PayloadTooLarge as exc:
                    outcome["too large"] += 1
                    self.stderr.write(f"{path}: {exc.message}")
                    continue
                except OSError as exc:
                    outcome["unreadable"] += 1
                    self.stderr.write(f"{path}: {exc}")
                    continue
                if batch is not None:
                    batch_add(batch, received, path.name)
                outcome["new" if received.created else "duplicate"] += 1
                if received.created:
                    new_ids.append(received.document.pk)
            if batch is not None:
                batch_submit(batch=batch)
        summary = ", ".join(f"{count} {name}" for name, count in sorted(outcome.items()))
        self.stdout.write(self.style.SUCCESS(f"{len(files)} files: {summary}."))
        if batch is not None:
            self.stdout.write(f"Batch {batch.pk} (job {batch.job_id}).")
        if wait and new_ids:
            self._wait(new_ids, no_progress)

    def _wait(self, ids, no_progress):
        finished = Document.objects.filter(pk__in=ids, processed_at__isnull=False).exclude(status="processing")
        with tqdm(total=len(ids), desc="Processing", unit="doc", disable=no_progress) as bar:
            done = 0
            while done < len(ids):
                time.sleep(0.5)
                now = finished.count()
                bar.update(now - done)
                done = now
        statuses = Counter(Document.objects.filter(pk__in=ids).values_list("status", flat=True))
        self.stdout.write("Processed: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) + ".")
