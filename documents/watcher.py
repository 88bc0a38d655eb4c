"""The folder watcher: file events (watchfiles) plus a periodic rescan, settle detection, the ledger.

A file is ingested once no event came for ``settle_seconds`` *and* its size and mtime stayed the
same that long (half-written files are not taken: paperless-ngx #432); a full rescan every
``rescan_seconds`` catches events that got lost (paperless-ng #1159). What was ingested is in the
ledger, so a restart or a rename ingests nothing twice.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from documents.models import DocumentSource, LedgerState
from documents.services import batch_create, batch_submit
from documents.services.ledger import (
    Signature,
    ledger_ingest,
    ledger_mark_gone,
    ledger_note,
    ledger_observe,
    ledger_record_move,
)

logger = logging.getLogger(__name__)

AFTER_INGEST = ("keep", "move", "delete")
PROCESSED_FOLDER = "processed"
IGNORED_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
IGNORED_FOLDERS = {"@eadir", ".stfolder", ".stversions", "#recycle", "$recycle.bin", ".trash"}
TEMPORARY_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", "~")
TICK = 0.25


def ignore_reason(path: str, *, processed_folder: bool) -> str:
    """Why a relative path is never ingested ("" when it may be)."""
    parts = Path(path).parts
    name = parts[-1].lower()
    if processed_folder and parts[0] == PROCESSED_FOLDER:
        return "In the processed/ folder: already ingested."
    if any(part.lower() in IGNORED_FOLDERS for part in parts[:-1]):
        return "In a system folder (sync or NAS metadata)."
    if any(part.startswith(".") for part in parts):
        return "A hidden file or folder."
    if name in IGNORED_NAMES:
        return "A system file."
    if name.startswith("~$") or name.endswith(TEMPORARY_SUFFIXES):
        return "A temporary or partial file name; it is taken once renamed."
    return ""


@dataclass
class Pending:
    signature: Signature
    changed_at: float


class FolderWatcher:
    def __init__(
        self,
        folders,
        *,
        settle_seconds: float = 5.0,
        rescan_seconds: float = 300.0,
        after_ingest: str = "keep",
        batch: bool = False,
        polling: bool = False,
        clock=time.monotonic,
        echo=None,
    ):
        if after_ingest not in AFTER_INGEST:
            raise ValueError(f"after_ingest must be one of {', '.join(AFTER_INGEST)}")
        self.folders = [str(Path(folder).resolve()) for folder in folders]
        self.settle_seconds = settle_seconds
        self.rescan_seconds = rescan_seconds
        self.after_ingest = after_ingest
        self.batch = batch
        self.polling = polling
        self.clock = clock
        self.echo = echo or (lambda message: logger.info("%s", message))
        self.pending: dict[tuple[str, str], Pending] = {}
        self.events: queue.Queue = queue.Queue()
        self.ingested = 0

    # --- discovery ---

    def locate(self, absolute: str) -> tuple[str, str] | None:
        for folder in sorted(self.folders, key=len, reverse=True):
            if absolute.startswith(folder + os.sep):
                return folder, os.path.relpath(absolute, folder)
        return None

    def note(self, absolute: str, *, from_event: bool) -> None:
        located = self.locate(absolute)
        if located is None:
            return
        key = located
        try:
            stat = os.stat(absolute)
        except FileNotFoundError:
            if self.pending.pop(key, None) is not None or from_event:
                ledger_mark_gone(folder=key[0], path=key[1])
            return
        if not os.path.isfile(absolute):
            return
        signature = Signature.of(stat)
        now = self.clock()
        current = self.pending.get(key)
        if current is not None:
            if from_event or current.signature != signature:
                current.signature, current.changed_at = signature, now
            return
        reason = ignore_reason(key[1], processed_folder=self.after_ingest == "move")
        if ledger_observe(
            folder=key[0], path=key[1], signature=signature, ignore_reason=reason, settle_seconds=self.settle_seconds
        ):
            self.pending[key] = Pending(signature, now)

    def scan(self) -> int:
        """Look at every file of every folder (startup and periodic rescan); returns how many."""
        seen = 0
        for folder in self.folders:
            for root, dirs, files in os.walk(folder):
                dirs.sort()
                for name in sorted(files):
                    self.note(os.path.join(root, name), from_event=False)
                    seen += 1
        return seen

    # --- settling and ingest ---

    def settle(self) -> int:
        """Ingest every pending file that has settled; returns how many were ingested or found duplicate."""
        now = self.clock()
        ready = []
        for key, pending in list(self.pending.items()):
            if now - pending.changed_at < self.settle_seconds:
                continue
            try:
                signature = Signature.of(os.stat(os.path.join(*key)))
            except FileNotFoundError:
                del self.pending[key]
                ledger_mark_gone(folder=key[0], path=key[1])
                continue
            if signature != pending.signature:
                pending.signature, pending.changed_at = signature, now
                continue
            ready.append((key, signature))
        if not ready:
            return 0
        batch = batch_create(source=DocumentSource.FOLDER, folder=ready[0][0][0]) if self.batch else None
        done = 0
        for key, signature in ready:
            entry = ledger_ingest(folder=key[0], path=key[1], signature=signature, batch=batch)
            if entry is None:  # changed while being read: settle again
                self.pending[key].changed_at = self.clock()
                continue
            del self.pending[key]
            self.echo(f"{entry.get_state_display().lower()}: {os.path.join(*key)} — {entry.reason}")
            if entry.state in (LedgerState.INGESTED, LedgerState.DUPLICATE):
                done += 1
                self._after_ingest(entry)
        if batch is not None:
            batch_submit(batch=batch)
        self.ingested += done
        return done

    def _after_ingest(self, entry) -> None:
        source = os.path.join(entry.folder, entry.path)
        try:
            if self.after_ingest == "delete":
                os.unlink(source)
                ledger_note(entry, "Source file deleted after ingest.")
            elif self.after_ingest == "move":
                relative = os.path.join(PROCESSED_FOLDER, entry.path)
                target = os.path.join(entry.folder, relative)
                if os.path.lexists(target):
                    stem, suffix = os.path.splitext(relative)
                    relative = f"{stem}.{entry.pk}{suffix}"
                    target = os.path.join(entry.folder, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.move(source, target)
                ledger_record_move(entry, new_path=relative, reason="Moved to processed/ after ingest.")
        except OSError as exc:
            ledger_note(entry, f"Could not {self.after_ingest} the source file: {exc}.")

    # --- running ---

    def _watch_events(self, stop: threading.Event) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(
                *self.folders,
                stop_event=stop,
                yield_on_timeout=True,
                rust_timeout=1000,
                debounce=200,
                step=50,
                force_polling=self.polling,
                ignore_permission_denied=True,
                raise_interrupt=False,
            ):
                for _, path in changes:
                    self.events.put(path)
        except Exception:  # events are a speed-up; the rescan still finds every file
            logger.exception("File events stopped; relying on the periodic rescan")

    def run(self, stop: threading.Event) -> None:
        for folder in self.folders:
            os.makedirs(folder, exist_ok=True)
        events = threading.Thread(target=self._watch_events, args=(stop,), name="watch-events", daemon=True)
        events.start()
        self.scan()
        next_rescan = self.clock() + self.rescan_seconds
        while not stop.is_set():
            try:
                path = self.events.get(timeout=TICK)
                self.note(path, from_event=True)
                while True:
                    self.note(self.events.get_nowait(), from_event=True)
            except queue.Empty:
                pass
            if self.clock() >= next_rescan:
                self.scan()
                next_rescan = self.clock() + self.rescan_seconds
            self.settle()
        events.join(timeout=5)

    def run_once(self, *, timeout: float = 600.0) -> int:
        """Scan, wait for every pending file to settle, ingest, return (for cron or scripts)."""
        self.scan()
        deadline = self.clock() + timeout
        while self.pending and self.clock() < deadline:
            time.sleep(TICK)
            for key in list(self.pending):
                self.note(os.path.join(*key), from_event=False)
            self.settle()
        return self.ingested
