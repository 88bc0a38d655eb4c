"""The watcher's decisions with a controlled clock: settle, temporary names, renames, restarts, moves."""

import os

import pytest

from documents.models import Document, LedgerState, WatchedFile
from documents.watcher import FolderWatcher, ignore_reason
from tests.documents import samples

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def folder(tmp_path, document_storage):
    path = tmp_path / "watch"
    path.mkdir()
    return path


def watcher(folder, clock, **options):
    return FolderWatcher([folder], settle_seconds=5, rescan_seconds=60, clock=clock, **options)


def state(folder, path):
    return WatchedFile.objects.get(folder=str(folder.resolve()), path=path)


def test_a_file_is_ingested_only_after_it_settles(folder, document_storage):
    clock = Clock()
    w = watcher(folder, clock)
    (folder / "a.csv").write_bytes(samples.csv_bytes()[:10])
    w.scan()
    assert state(folder, "a.csv").state == LedgerState.WAITING
    clock.now += 3
    with open(folder / "a.csv", "ab") as handle:  # still being written
        handle.write(samples.csv_bytes()[10:])
    w.note(str(folder / "a.csv"), from_event=True)
    clock.now += 4
    assert w.settle() == 0  # 4 s since the last change
    clock.now += 2
    assert w.settle() == 1
    entry = state(folder, "a.csv")
    assert entry.state == LedgerState.INGESTED and entry.document.size == len(samples.csv_bytes())
    assert entry.document.source == "folder" and entry.document.job_id is not None


def test_temporary_names_wait_and_a_rename_is_followed(folder, document_storage):
    clock = Clock()
    w = watcher(folder, clock)
    (folder / "b.json.part").write_bytes(samples.json_bytes())
    w.scan()
    assert state(folder, "b.json.part").state == LedgerState.IGNORED
    os.rename(folder / "b.json.part", folder / "b.json")
    w.note(str(folder / "b.json"), from_event=True)
    entry = state(folder, "b.json")
    assert entry.state == LedgerState.WAITING and entry.moved_from == "b.json.part"
    clock.now += 6
    assert w.settle() == 1
    # Renamed after ingest: the entry follows, nothing is ingested again.
    os.rename(folder / "b.json", folder / "renamed.json")
    w.scan()
    moved = state(folder, "renamed.json")
    assert moved.state == LedgerState.INGESTED and moved.moved_from == "b.json"
    assert not w.pending and Document.objects.count() == 1 and WatchedFile.objects.count() == 1


def test_a_restart_ingests_nothing_again_and_duplicates_are_named(folder, document_storage):
    clock = Clock()
    (folder / "one.txt").write_bytes(samples.text_bytes())
    (folder / "same.txt").write_bytes(samples.text_bytes())
    first = watcher(folder, clock)
    first.scan()
    clock.now += 6
    assert first.settle() == 2
    assert (
        state(folder, "same.txt").state == LedgerState.DUPLICATE
        or state(folder, "one.txt").state == LedgerState.DUPLICATE
    )
    second = watcher(folder, clock)
    second.scan()
    assert not second.pending
    assert Document.objects.count() == 1


def test_a_changed_file_is_a_new_version(folder, document_storage):
    clock = Clock()
    w = watcher(folder, clock)
    (folder / "c.txt").write_bytes(b"first version of the text\n")
    w.scan()
    clock.now += 6
    w.settle()
    (folder / "c.txt").write_bytes(b"second version, longer than the first\n")
    w.scan()
    assert "Changed since it was ingested" in state(folder, "c.txt").reason
    clock.now += 6
    assert w.settle() == 1 and Document.objects.count() == 2


def test_move_after_ingest_puts_files_in_processed(folder, document_storage):
    clock = Clock()
    w = watcher(folder, clock, after_ingest="move")
    (folder / "d.md").write_bytes(samples.markdown_bytes())
    w.scan()
    clock.now += 6
    w.settle()
    assert (folder / "processed" / "d.md").exists() and not (folder / "d.md").exists()
    entry = WatchedFile.objects.get()
    assert entry.path == "processed/d.md" and entry.moved_from == "d.md"
    w.scan()
    assert not w.pending and Document.objects.count() == 1


def test_delete_after_ingest_and_oversized_files(folder, document_settings):
    document_settings(MAX_UPLOAD_BYTES=100)
    clock = Clock()
    w = watcher(folder, clock, after_ingest="delete")
    (folder / "small.txt").write_bytes(b"small enough\n")
    (folder / "large.txt").write_bytes(b"x" * 500)
    w.scan()
    clock.now += 6
    w.settle()
    assert not (folder / "small.txt").exists()
    assert "deleted after ingest" in state(folder, "small.txt").reason
    large = state(folder, "large.txt")
    assert large.state == LedgerState.REJECTED and "limit" in large.reason and (folder / "large.txt").exists()


def test_a_file_gone_before_settling_is_recorded(folder, document_storage):
    clock = Clock()
    w = watcher(folder, clock)
    (folder / "e.txt").write_bytes(b"short-lived\n")
    w.scan()
    (folder / "e.txt").unlink()
    clock.now += 6
    w.settle()
    assert state(folder, "e.txt").state == LedgerState.GONE


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("a.pdf", False),
        (".hidden", True),
        ("x/.git/config", True),
        ("@eaDir/a.jpg", True),
        ("a.pdf.part", True),
        ("~$doc.docx", True),
        ("sub/ok.txt", False),
        ("processed/a.pdf", True),
    ],
)
def test_ignore_rules(path, ignored):
    assert bool(ignore_reason(path, processed_folder=True)) is ignored
