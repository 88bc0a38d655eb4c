"""Watch folders and ingest each file once, after it has settled (events plus a periodic rescan).

    python manage.py watch_documents [DIR ...] [--batch] [--settle-seconds 5] [--rescan-seconds 300]

Without DIRs it watches DOCUMENTS_WATCH_DIRS. Every file seen is in the ledger (dashboard:
Documents → Watched folders) with its state and the reason it was not ingested yet.
"""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from documents.watcher import AFTER_INGEST, FolderWatcher


class Command(BaseCommand):
    help = "Watches folders and ingests each settled file once (a database ledger records every file seen)."

    def add_arguments(self, parser):
        config = settings.DOCUMENTS
        parser.add_argument("dirs", nargs="*", help="Folders to watch (default: DOCUMENTS_WATCH_DIRS)")
        parser.add_argument("--batch", action="store_true", help="Files settled together form one batch")
        parser.add_argument("--settle-seconds", type=float, default=config["WATCH_SETTLE_SECONDS"])
        parser.add_argument("--rescan-seconds", type=float, default=config["WATCH_RESCAN_SECONDS"])
        parser.add_argument("--after-ingest", choices=AFTER_INGEST, default=config["WATCH_AFTER_INGEST"])
        parser.add_argument(
            "--polling", action="store_true", default=config["WATCH_POLLING"], help="For network shares"
        )
        parser.add_argument("--once", action="store_true", help="Scan, ingest what settles, and exit")

    def handle(self, *, dirs, batch, settle_seconds, rescan_seconds, after_ingest, polling, once, **options):
        folders = dirs or settings.DOCUMENTS["WATCH_DIRS"]
        if not folders:
            raise CommandError("No folder to watch: name one or set DOCUMENTS_WATCH_DIRS.")
        if settle_seconds < 0 or rescan_seconds <= 0:
            raise CommandError("--settle-seconds must be 0 or more and --rescan-seconds more than 0.")
        watcher = FolderWatcher(
            folders,
            settle_seconds=settle_seconds,
            rescan_seconds=rescan_seconds,
            after_ingest=after_ingest,
            batch=batch,
            polling=polling,
            echo=lambda message: (self.stdout.write(message), self.stdout.flush()),
        )
        if once:
            count = watcher.run_once()
            self.stdout.write(self.style.SUCCESS(f"{count} files ingested or matched as duplicates."))
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(
            f"Watching {', '.join(watcher.folders)} (settle {settle_seconds:g} s, rescan every {rescan_seconds:g} s, "
            f"after ingest: {after_ingest})"
        )
        self.stdout.flush()
        watcher.run(stop)
        self.stdout.write(f"Stopped; {watcher.ingested} files ingested or matched as duplicates in this run.")
