import os
import uuid

import dramatiq
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from tests import summary

# Every test run gets Redis keys of its own: nothing of a developer's (or another run's) is touched.
TEST_NAMESPACE = os.environ.get("DRAMATIQ_TEST_NAMESPACE") or f"test-{uuid.uuid4().hex[:10]}"
os.environ["DRAMATIQ_NAMESPACE"] = TEST_NAMESPACE
os.environ.setdefault("JOBS_EXTRA_ACTOR_MODULES", "tests.integration.actors")


def pytest_configure(config):
    import tests.integration.actors  # noqa: F401  (the test actors are known to the API too)


# `make test` runs the suite on three xdist workers (--dist loadgroup). The fault suites share things
# a second copy of them must not see: the multi-host bed's fixed network namespaces, bridge and
# subnet, var/test-logs/chaos (wiped at the start of each run), and both sweep up what they take
# for a dead run's leftovers. So they run one after the other on one worker, beside the rest.
# The group is chosen by path in the scheduler: xdist 3.8's xdist_group marker renames the item's
# node id through a private attribute that pytest 9 no longer reads, so the marker groups nothing.
SERIAL_GROUP = "fault-suites"
SERIAL_PACKAGES = ("tests/chaos/", "tests/multihost/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FaultSuitesTogether(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return SERIAL_GROUP if nodeid.startswith(SERIAL_PACKAGES) else super()._split_scope(nodeid)

    return FaultSuitesTogether(config, log)


# The fault suites' and the bed's figures reach the controller's summary from an xdist worker.
_WORKER_SECTIONS: list = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _WORKER_SECTIONS.extend(summary.from_worker(node))


def pytest_terminal_summary(terminalreporter):
    for section in _WORKER_SECTIONS:
        summary.write(terminalreporter, section)


def clear_redis_namespace(namespace: str | None = None) -> None:
    """Delete every Redis key of ``namespace`` (the run's): queues, ack sets, limiter logs."""
    namespace = namespace or os.environ["DRAMATIQ_NAMESPACE"]
    client = dramatiq.get_broker().client
    keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])


@pytest.fixture(scope="session", autouse=True)
def redis_namespace():
    broker = dramatiq.get_broker()
    previous = broker.namespace
    broker.namespace = TEST_NAMESPACE
    yield TEST_NAMESPACE
    clear_redis_namespace(TEST_NAMESPACE)
    broker.namespace = previous


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def reader_user(db):
    return get_user_model().objects.create_user("reader", password="pw-reader-123")


@pytest.fixture
def staff_client(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.fixture
def reader_client(reader_user):
    client = APIClient()
    client.force_authenticate(reader_user)
    return client


@pytest.fixture
def staff_browser(staff_user):
    """A signed-in staff user for the pages (session login, as in a browser)."""
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def reader_browser(reader_user):
    """A signed-in user without staff rights: the pages are read-only for them."""
    client = Client()
    client.force_login(reader_user)
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users are made by the hundred: a deliberately slow hash (about 0.4 s each) is not
    what these tests examine. The live and lockout tests sign in with real passwords all the same."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_throttles(settings):
    """Throttle and failed-authentication counts of one test never leak into the next (LocMem only:
    clearing a shared cache would empty someone else's)."""
    from django.core.cache import cache

    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        cache.clear()
    yield


@pytest.fixture(autouse=True)
def fresh_queue_controls():
    """A test's pause or limit (rolled back with its transaction) never lingers in the process's
    cached snapshot of the controls for the next test; nor do its job counts (dashboard_counts)."""
    from jobs.controls.gate import cache
    from jobs.selectors.stats import _COUNTS

    cache.clear()
    _COUNTS.clear()
    yield
    cache.clear()
    _COUNTS.clear()
