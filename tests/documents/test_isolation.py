"""The extractor children: memory ceiling, wall-clock limit, crashes; the pool goes on after each."""

import os
import signal

import pytest

from documents.isolation import ExtractorCrashed, ExtractorPool, ExtractorTimeout, MemoryCeilingExceeded, format_bytes
from tests.documents import samples

GB = 1024 * 1024 * 1024


@pytest.fixture
def pool():
    pool = ExtractorPool()
    yield pool
    pool.close()


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_bytes(samples.text_bytes())
    return str(path)


def request(path, mime="text/plain", **limits):
    return {"path": path, "mime_type": mime, "limits": limits}


def test_a_child_extracts_and_is_reused(pool, text_file):
    first = pool.run(request(text_file), memory_bytes=GB, timeout=30, recycle_after=100)
    assert first["ok"] and samples.phrase("txt") in first["extraction"]["text"]
    assert pool.size() == 1
    pool.run(request(text_file), memory_bytes=GB, timeout=30, recycle_after=100)
    assert pool.size() == 1


def test_a_child_is_recycled_after_its_quota(pool, text_file):
    pool.run(request(text_file), memory_bytes=GB, timeout=30, recycle_after=1)
    assert pool.size() == 0


def test_a_parser_over_the_memory_ceiling_is_stopped_and_the_next_file_works(pool, tmp_path, text_file):
    big = tmp_path / "big.png"
    big.write_bytes(samples.image_needing_memory(8000))
    with pytest.raises(MemoryCeilingExceeded, match="exceeded 256 MB while parsing"):
        pool.run(request(str(big), "image/png"), memory_bytes=256 * 1024 * 1024, timeout=60, recycle_after=100)
    assert pool.size() == 0  # never reused
    assert pool.run(request(text_file), memory_bytes=256 * 1024 * 1024, timeout=30, recycle_after=100)["ok"]


def test_a_parser_past_the_deadline_is_killed(pool, text_file):
    with pytest.raises(ExtractorTimeout, match="longer than the limit"):
        pool.run(request(text_file), memory_bytes=GB, timeout=1e-9, recycle_after=100)
    assert pool.size() == 0
    assert pool.run(request(text_file), memory_bytes=GB, timeout=30, recycle_after=100)["ok"]


def test_a_crashed_child_is_reported_and_replaced(pool, text_file):
    pool.run(request(text_file), memory_bytes=GB, timeout=30, recycle_after=100)
    child = pool._idle[0]
    os.kill(child.proc.pid, signal.SIGSEGV)
    child.proc.wait(5)
    # The dead child is noticed when taken and replaced by a fresh one.
    assert pool.run(request(text_file), memory_bytes=GB, timeout=30, recycle_after=100)["ok"]


def test_a_child_dying_mid_request_is_a_readable_error(pool, text_file):
    from documents.isolation.pool import ExtractorProcess

    child = ExtractorProcess(memory_bytes=GB)
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait(5)
    with pytest.raises(ExtractorCrashed, match="SIGKILL|exited"):
        child.request(request(text_file), timeout=10)
    child.kill()


def test_a_cancelled_wait_kills_the_child(pool, text_file):
    class Cancelled(BaseException):
        pass

    def cancel():
        raise Cancelled()

    with pytest.raises(Cancelled):
        pool.run(request(text_file), memory_bytes=GB, timeout=30, recycle_after=100, on_wait=cancel)
    assert pool.size() == 0


def test_sizes_read_as_people_say_them():
    assert format_bytes(GB) == "1 GB"
    assert format_bytes(256 * 1024 * 1024) == "256 MB"
