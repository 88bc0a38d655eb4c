"""Import records from a CSV or JSON-lines file, with a progress bar; bad rows are reported by line."""

import os

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from jobs.errors import ApplicationError
from monitoring import imports


class Command(BaseCommand):
    help = "Imports records (CSV or JSON lines) into a source: upsert by external id, bad rows reported."

    def add_arguments(self, parser):
        parser.add_argument("path", help="A .csv, .jsonl or .ndjson file")
        parser.add_argument("--source", required=True, help="The records' source, e.g. erp or vendors")
        parser.add_argument("--format", choices=imports.FORMATS, help="Default: from the file name")
        parser.add_argument("--id-field", default="id", help="The column or key holding the external id (id)")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, path, source, format, id_field, no_progress, **options):
        try:
            fmt = imports.format_of(path, format)
            size = os.path.getsize(path)
            with (
                open(path, "rb") as handle,
                tqdm(total=size, unit="B", unit_scale=True, desc=f"importing {source}", disable=no_progress) as bar,
            ):

                def advance(_rows):
                    bar.update(handle.tell() - bar.n)

                result = imports.records_import(
                    source=source, stream=handle, fmt=fmt, id_field=id_field, on_progress=advance
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for error in result.errors:
            self.stderr.write(f"line {error['line']}: {error['reason']}")
        if result.error_count > len(result.errors):
            self.stderr.write(f"… and {result.error_count - len(result.errors)} more bad rows")
        self.stdout.write(
            f"{result.rows} rows: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged, {result.restored} restored, {result.error_count} bad"
        )
