"""The watched-folder ledger: every file seen, and why it was or was not ingested.

A file is identified by its folder and relative path; its signature (size, mtime, inode, device)
tells an unchanged file from a new version, and a renamed or moved file (same inode and
signature, old path gone) from a new file. So a restart, a rescan or a rename never ingests the
same file twice, and a person can read why a file was skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from documents import storage
from documents.models import SETTLED_LEDGER_STATES, Batch, DocumentSource, LedgerState, WatchedFile
from documents.services.intake import batch_add, document_register
from jobs.errors import PayloadTooLarge


@dataclass(frozen=True)
class Signature:
    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, stat: os.stat_result) -> Signature:
        return cls(size=stat.st_size, mtime_ns=stat.st_mtime_ns, inode=stat.st_ino, device=stat.st_dev)

    def fields(self) -> dict:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "inode": self.inode, "device": self.device}


def _same(entry: WatchedFile, signature: Signature) -> bool:
    return (entry.size, entry.mtime_ns, entry.inode, entry.device) == (
        signature.size,
        signature.mtime_ns,
        signature.inode,
        signature.device,
    )


def waiting_reason(settle_seconds: float) -> str:
    return f"Waiting for the file to settle (no change for {settle_seconds:g} s)."


def _moved_entry(folder: str, signature: Signature) -> WatchedFile | None:
    """The entry of a file that was renamed or moved here: same inode and signature, old path gone."""
    candidates = WatchedFile.objects.filter(device=signature.device, inode=signature.inode, size=signature.size)
    for entry in candidates.filter(mtime_ns=signature.mtime_ns):
        if not os.path.lexists(os.path.join(entry.folder, entry.path)):
            return entry
    return None


def ledger_observe(*, folder: str, path: str, signature: Signature, ignore_reason: str, settle_seconds: float) -> bool:
    """Record a file seen in a watched folder; True when it must settle and then be ingested."""
    now = timezone.now()
    entry = WatchedFile.objects.filter(folder=folder, path=path).first()
    if entry is None:
        entry = _moved_entry(folder, signature)
        if entry is not None:
            moved_from = entry.path if entry.folder == folder else os.path.join(entry.folder, entry.path)
            entry.folder, entry.path, entry.moved_from, entry.last_seen_at = folder, path, moved_from, now
            if entry.state in SETTLED_LEDGER_STATES:
                entry.save()
                return False  # renamed after ingest: followed, not ingested again
            entry.state = LedgerState.IGNORED if ignore_reason else LedgerState.WAITING
            entry.reason = ignore_reason or waiting_reason(settle_seconds)
            entry.save()
            return not ignore_reason
    if ignore_reason:
        if entry is None or entry.state != LedgerState.IGNORED or not _same(entry, signature):
            _upsert(folder, path, state=LedgerState.IGNORED, reason=ignore_reason, signature=signature)
        return False
    if entry is not None and entry.state in SETTLED_LEDGER_STATES and _same(entry, signature):
        return False
    reason = waiting_reason(settle_seconds)
    if entry is not None and entry.state in SETTLED_LEDGER_STATES:
        reason = "Changed since it was ingested; " + reason[0].lower() + reason[1:]
    _upsert(folder, path, state=LedgerState.WAITING, reason=reason, signature=signature)
    return True


def _upsert(folder: str, path: str, *, state: str, reason: str, signature: Signature | None = None, **fields) -> None:
    now = timezone.now()
    values = {"state": state, "reason": reason, "last_seen_at": now, **fields}
    if signature is not None:
        values.update(signature.fields())
    try:
        with transaction.atomic():
            WatchedFile.objects.update_or_create(folder=folder, path=path, defaults=values)
    except IntegrityError:  # a concurrent watcher wrote it first
        WatchedFile.objects.filter(folder=folder, path=path).update(**values)


def ledger_mark_gone(*, folder: str, path: str) -> None:
    WatchedFile.objects.filter(folder=folder, path=path, state__in=[LedgerState.WAITING, LedgerState.IGNORED]).update(
        state=LedgerState.GONE,
        reason="Disappeared before it settled (deleted, or renamed to a path not seen yet).",
        last_seen_at=timezone.now(),
    )


def ledger_ingest(
    *, folder: str, path: str, signature: Signature, batch: Batch | None = None, max_bytes: int | None = None
) -> WatchedFile | None:
    """Store a settled file and register its document; None when it changed while being read."""
    absolute = os.path.join(folder, path)
    limit = storage.max_upload_bytes() if max_bytes is None else max_bytes
    if signature.size > limit:
        _upsert(folder, path, state=LedgerState.REJECTED, reason=storage.size_limit_message(limit), signature=signature)
        return WatchedFile.objects.get(folder=folder, path=path)
    try:
        with open(absolute, "rb") as handle:
            stored = storage.store_stream(handle, max_bytes=limit)
            after = Signature.of(os.fstat(handle.fileno()))
    except PayloadTooLarge as exc:
        _upsert(folder, path, state=LedgerState.REJECTED, reason=exc.message, signature=signature)
        return WatchedFile.objects.get(folder=folder, path=path)
    except FileNotFoundError:
        ledger_mark_gone(folder=folder, path=path)
        return None
    except OSError as exc:
        _upsert(folder, path, state=LedgerState.FAILED, reason=f"Could not read the file: {exc}", signature=signature)
        return WatchedFile.objects.get(folder=folder, path=path)
    if after != signature or stored.size != signature.size:
        _upsert(folder, path, state=LedgerState.WAITING, reason="Changed while being read; waiting to settle again.")
        return None
    received = document_register(
        stored=stored,
        original_name=Path(path).name,
        source=DocumentSource.FOLDER,
        source_path=absolute,
        batch=batch,
        submit=batch is None,
    )
    if batch is not None:
        batch_add(batch, received, Path(path).name)
    document = received.document
    if received.created:
        state, reason = LedgerState.INGESTED, f"Ingested as document {document.pk}."
    else:
        state, reason = LedgerState.DUPLICATE, f"Same bytes as document {document.pk} ({document.original_name})."
    _upsert(
        folder,
        path,
        state=state,
        reason=reason,
        signature=signature,
        sha256=stored.sha256,
        document=document,
        ingested_at=timezone.now(),
    )
    return WatchedFile.objects.get(folder=folder, path=path)


def ledger_record_move(entry: WatchedFile, *, new_path: str, reason: str) -> None:
    """After the watcher moved an ingested file (e.g. into processed/): the entry follows it."""
    stat = os.stat(os.path.join(entry.folder, new_path))
    WatchedFile.objects.filter(pk=entry.pk).update(
        path=new_path, moved_from=entry.path, reason=f"{entry.reason} {reason}", **Signature.of(stat).fields()
    )


def ledger_note(entry: WatchedFile, note: str) -> None:
    WatchedFile.objects.filter(pk=entry.pk).update(reason=f"{entry.reason} {note}")
