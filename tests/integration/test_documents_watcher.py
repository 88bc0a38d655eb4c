"""The folder watcher as a real process: 100 files copied in, some still being written when first
seen, some renamed after being written; each is ingested exactly once, a restart ingests nothing
again, and the ledger shows every file's state. A real worker processes what was ingested."""

import hashlib
import os
import threading
import time

import pytest

from documents.models import Document, DocumentStatus, LedgerState, WatchedFile
from jobs.models import Job
from tests.documents.conftest import use_document_storage
from tests.integration.conftest import ManagedProcess, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SETTLE = 1.5
RESCAN = 3


class WatcherProcess(ManagedProcess):
    def __init__(self, name, *, folder, env):
        super().__init__(name, env=env)
        self.folder = folder

    def argv(self):
        return ["watch_documents", str(self.folder), "--settle-seconds", str(SETTLE), "--rescan-seconds", str(RESCAN)]


def content(index: int) -> bytes:
    return (f"document number {index} of the watcher test\n" * (20 + index)).encode()


def write_slowly(path, data: bytes, *, pieces: int = 8, pause: float = 0.4):
    """Append in pieces over ~3 s: longer than the settle time, with gaps shorter than it."""
    step = len(data) // pieces + 1
    with open(path, "wb") as handle:
        for start in range(0, len(data), step):
            handle.write(data[start : start + step])
            handle.flush()
            time.sleep(pause)


def test_the_watcher_ingests_each_file_exactly_once_across_renames_and_restarts(start_worker, settings, tmp_path):
    storage = use_document_storage(settings, tmp_path)
    folder = (tmp_path / "inbox").resolve()
    folder.mkdir()
    env = {"DOCUMENTS_UPLOAD_DIR": str(storage)}
    start_worker(queues=["documents"], threads=4, env=env)
    watcher = WatcherProcess("watcher-1", folder=folder, env=env).start()
    try:
        wait_for(lambda: "Watching" in watcher.log_path.read_text(), timeout=30, message="the watcher to start")
        expected = {}
        # 70 files copied in at once.
        for i in range(70):
            (folder / f"copied-{i:03d}.txt").write_bytes(content(i))
            expected[f"copied-{i:03d}.txt"] = content(i)
        # 15 files still being written when first seen.
        writers = []
        for i in range(70, 85):
            name = f"slow-{i:03d}.txt"
            expected[name] = content(i)
            writers.append(threading.Thread(target=write_slowly, args=(folder / name, content(i))))
        # 15 files written under a temporary name, then renamed.
        for i in range(85, 100):
            (folder / f"upload-{i:03d}.txt.part").write_bytes(content(i))
        for writer in writers:
            writer.start()
        time.sleep(0.5)
        for i in range(85, 100):
            os.rename(folder / f"upload-{i:03d}.txt.part", folder / f"renamed-{i:03d}.txt")
            expected[f"renamed-{i:03d}.txt"] = content(i)
        for writer in writers:
            writer.join()

        wait_for(lambda: Document.objects.count() >= 100 and not pending_files(), timeout=90, message="100 ingests")
        assert_each_file_ingested_once(folder, expected)

        # Renamed after being ingested: the ledger follows, nothing is ingested again.
        for i in range(5):
            os.rename(folder / f"copied-{i:03d}.txt", folder / f"moved-{i:03d}.txt")
            expected[f"moved-{i:03d}.txt"] = expected.pop(f"copied-{i:03d}.txt")
        wait_for(
            lambda: WatchedFile.objects.filter(path__startswith="moved-").count() == 5,
            timeout=RESCAN * 4,
            message="the renames to be followed",
        )
        assert set(WatchedFile.objects.filter(path__startswith="moved-").values_list("moved_from", flat=True)) == {
            f"copied-{i:03d}.txt" for i in range(5)
        }
    finally:
        watcher.stop()

    # A restart: a full scan finds every file in the ledger and ingests nothing.
    jobs_before = Job.objects.count()
    restarted = WatcherProcess("watcher-2", folder=folder, env=env).start()
    try:
        wait_for(lambda: "Watching" in restarted.log_path.read_text(), timeout=30, message="the restart")
        time.sleep(RESCAN + SETTLE + 1.5)
    finally:
        restarted.stop()
    assert Document.objects.count() == 100 and Job.objects.count() == jobs_before
    assert_each_file_ingested_once(folder, expected)
    wait_for(
        lambda: Document.objects.filter(status=DocumentStatus.PROCESSED).count() == 100,
        timeout=120,
        message="the worker to process the 100 documents",
    )


def pending_files():
    return WatchedFile.objects.filter(state=LedgerState.WAITING).exists()


def assert_each_file_ingested_once(folder, expected):
    folder = str(folder)
    assert Document.objects.count() == len(expected) == 100
    ledger = {entry.path: entry for entry in WatchedFile.objects.filter(folder=folder).select_related("document")}
    for name, data in expected.items():
        entry = ledger[name]
        assert entry.state == LedgerState.INGESTED, (name, entry.state, entry.reason)
        # The whole file, not the part seen first: the settle detection waited for the writer.
        assert entry.document.sha256 == hashlib.sha256(data).hexdigest(), name
        assert entry.document.size == len(data)
    # Temporary names never became documents; every other ledger row is a final file.
    others = {path: entry.state for path, entry in ledger.items() if path not in expected}
    assert all(state in (LedgerState.IGNORED, LedgerState.GONE) for state in others.values()), others
    assert Job.objects.filter(actor_name="documents.process_document_file").count() == 100
