"""Job locks on redis-py's Lock: one holder, released however the block ends, extended while held."""

import threading
import time

import dramatiq
import pytest

from jobs import locks
from jobs.errors import JobError, LockNotAcquired, PermanentError
from jobs.locks import job_lock
from jobs.registry import get_spec


def redis():
    return dramatiq.get_broker().client


def test_a_lock_is_held_inside_the_block_and_released_after():
    with job_lock("unit:a", timeout=5):
        assert redis().exists(locks.lock_key("unit:a"))
        assert locks.held_locks() == ["unit:a"]
    assert not redis().exists(locks.lock_key("unit:a"))
    assert locks.held_locks() == []


def test_a_failing_block_releases_its_lock():
    with pytest.raises(RuntimeError), job_lock("unit:b", timeout=5):
        raise RuntimeError("the job failed")
    assert not redis().exists(locks.lock_key("unit:b"))


def test_a_lock_held_elsewhere_is_refused_with_a_retryable_error():
    with job_lock("unit:c", timeout=5):
        with pytest.raises(LockNotAcquired, match="unit:c"), job_lock("unit:c", timeout=5, blocking_timeout=0.3):
            pass
        assert locks.held_locks() == ["unit:c"]  # the refused one was never held
    error = LockNotAcquired("held")
    assert isinstance(error, JobError) and not isinstance(error, PermanentError)
    assert not get_spec("echo").is_permanent(error)  # the job retries by its policy


def test_the_waiter_gets_the_lock_once_it_is_released():
    got = threading.Event()
    with job_lock("unit:d", timeout=5):
        waiter = threading.Thread(target=lambda: job_lock("unit:d", blocking_timeout=5).__enter__() and got.set())
        waiter.start()
        time.sleep(0.3)
        assert not got.is_set()
    waiter.join(5)
    assert got.is_set()
    redis().delete(locks.lock_key("unit:d"))


def test_extending_renews_the_expiry_of_held_locks():
    with job_lock("unit:e", timeout=1):
        time.sleep(0.5)
        locks.extend_held()
        assert redis().pttl(locks.lock_key("unit:e")) > 900
        time.sleep(0.7)  # past the first expiry: still ours
        assert redis().exists(locks.lock_key("unit:e"))
    assert not redis().exists(locks.lock_key("unit:e"))


def test_a_lock_needs_a_name():
    with pytest.raises(ValueError), job_lock(""):
        pass


def test_a_lock_without_expiry_is_left_alone_by_the_renewal():
    with job_lock("unit:f", timeout=None):
        locks.extend_held()
        assert redis().pttl(locks.lock_key("unit:f")) == -1
    assert not redis().exists(locks.lock_key("unit:f"))
