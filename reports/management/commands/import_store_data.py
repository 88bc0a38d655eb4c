"""python manage.py import_store_data DIR: load store_status.csv, menu_hours.csv and timezones.csv."""

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from jobs.errors import ValidationFailed
from reports import services


class Command(BaseCommand):
    help = (
        "Imports store_status.csv, menu_hours.csv and timezones.csv (or .csv.gz) from DIR. Files are checked "
        "first; one bad file means nothing is imported. Importing the same files again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", help="folder with the CSV files")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, directory, no_progress=False, **options):
        def progress(**kwargs):
            return tqdm(disable=no_progress, leave=False, unit_scale=True, file=self.stderr._out, **kwargs)

        try:
            result = services.store_data_import_directory(directory=directory, progress=progress)
        except ValidationFailed as exc:
            detail = json.dumps(exc.details, indent=2, default=str) if exc.details else ""
            raise CommandError(f"{exc.message}\n{detail}".rstrip()) from None
        for item in result.files:
            facts = ", ".join(f"{key} {value}" for key, value in item.items() if key != "file")
            self.stdout.write(f"{item['file']}: {facts}")
        self.stdout.write(f"imported in {result.seconds:.1f} s")
