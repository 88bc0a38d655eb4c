import time
import uuid

import dramatiq
import pytest

from jobs.scheduling.lock import LeaderLock


@pytest.fixture
def make_lock():
    client = dramatiq.get_broker().client
    key = f"{dramatiq.get_broker().namespace}:test-lock:{uuid.uuid4().hex}"

    def make(token: str, ttl: float = 5.0) -> LeaderLock:
        return LeaderLock(client=client, key=key, token=token, ttl=ttl)

    yield make
    client.delete(key)


def test_one_holder_at_a_time(make_lock):
    first, second = make_lock("first"), make_lock("second")
    assert first.acquire() and first.held()
    assert not second.acquire() and not second.held()
    assert first.holder() == "first"
    assert first.acquire()  # taking a lease we hold is a renewal


def test_nobody_renews_or_releases_someone_elses_lease(make_lock):
    first, second = make_lock("first"), make_lock("second")
    first.acquire()
    assert not second.renew()
    second.release()
    assert first.holder() == "first" and first.renew()


def test_release_hands_over_at_once(make_lock):
    first, second = make_lock("first"), make_lock("second")
    first.acquire()
    first.release()
    assert not first.held()
    assert second.acquire() and second.holder() == "second"


def test_an_expired_lease_passes_on_and_its_old_holder_knows(make_lock):
    first, second = make_lock("first", ttl=0.3), make_lock("second", ttl=0.3)
    assert first.acquire()
    assert not first.held()  # a lease shorter than the safety margin never counts as held
    time.sleep(0.4)
    assert second.acquire()
    assert not first.renew() and not first.held()
    assert second.holder() == "second"


def test_held_ends_before_the_lease_does(make_lock):
    lock = make_lock("only", ttl=1.5)
    assert lock.acquire() and lock.held()
    time.sleep(0.6)
    assert not lock.held()  # 1 s before expiry it stops acting as leader
    assert lock.holder() == "only"
