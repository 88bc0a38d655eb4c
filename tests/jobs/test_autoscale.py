"""The autoscaler's decisions, the queue backlog it weighs, and GET /api/v1/queues."""

import pytest

from jobs.models import JobStatus
from jobs.selectors.system import queue_backlog
from jobs.worker.autoscale import Autoscaler, Bounds, Load, parse_bounds
from tests.factories import JobFactory

S = JobStatus


@pytest.fixture(autouse=True)
def timings(settings):
    settings.JOBS = {**settings.JOBS, "AUTOSCALE_MAX_WAIT": 5.0, "AUTOSCALE_QUIET_PERIOD": 10.0}


def load(waiting=0, oldest=None, running=0):
    return Load(waiting=waiting, oldest_wait=oldest, running=running, running_by_worker={})


def test_bounds_parse():
    assert parse_bounds("1:3") == Bounds(1, 3)
    for bad in ("3", "3:1", "0:2", "a:b", "1:2:3"):
        with pytest.raises(ValueError, match="--autoscale"):
            parse_bounds(bad)


def test_it_grows_one_at_a_time_on_backlog_up_to_max():
    scaler = Autoscaler(bounds=Bounds(1, 3), threads=4)
    assert scaler.decide(current=1, load=load(waiting=5, oldest=0.1), memory_short=False, now=0)[0] == 2
    assert scaler.decide(current=2, load=load(waiting=5, oldest=0.1), memory_short=False, now=1)[0] == 2
    assert scaler.decide(current=2, load=load(waiting=9, oldest=0.1), memory_short=False, now=2)[0] == 3
    assert scaler.decide(current=3, load=load(waiting=900, oldest=60), memory_short=False, now=3) == (3, "")


def test_a_late_job_grows_the_pool_even_without_backlog():
    scaler = Autoscaler(bounds=Bounds(1, 3), threads=4)
    target, reason = scaler.decide(current=1, load=load(waiting=1, oldest=6), memory_short=False, now=0)
    assert (target, "oldest for 6.0 s" in reason) == (2, True)


def test_it_never_grows_while_memory_is_short():
    scaler = Autoscaler(bounds=Bounds(1, 3), threads=4)
    assert scaler.decide(current=1, load=load(waiting=100, oldest=60), memory_short=True, now=0) == (1, "")


def test_it_shrinks_after_the_quiet_period_to_what_running_jobs_need():
    scaler = Autoscaler(bounds=Bounds(1, 4), threads=4)
    assert scaler.decide(current=4, load=load(running=6), memory_short=False, now=0)[0] == 4
    assert scaler.decide(current=4, load=load(running=6), memory_short=False, now=9)[0] == 4
    assert scaler.decide(current=4, load=load(running=6), memory_short=False, now=10)[0] == 2
    assert scaler.decide(current=2, load=load(), memory_short=False, now=11)[0] == 1
    # a waiting job restarts the quiet period
    scaler.decide(current=2, load=load(waiting=1, oldest=0), memory_short=False, now=12)
    assert scaler.decide(current=2, load=load(), memory_short=False, now=13)[0] == 2


def test_never_below_min():
    scaler = Autoscaler(bounds=Bounds(2, 4), threads=4)
    assert scaler.decide(current=3, load=load(), memory_short=False, now=0)[0] == 3
    assert scaler.decide(current=3, load=load(), memory_short=False, now=100)[0] == 2
    assert scaler.decide(current=2, load=load(), memory_short=False, now=200)[0] == 2


@pytest.mark.django_db
def test_the_backlog_counts_the_hosts_queues_and_its_running_jobs():
    JobFactory.create_batch(3, status=S.QUEUED, queue_name="default")
    JobFactory(status=S.PENDING, queue_name="default")
    JobFactory(status=S.QUEUED, queue_name="reports")
    JobFactory(status=S.RUNNING, queue_name="default", worker_id="h1/a")
    JobFactory(status=S.RUNNING, queue_name="default", worker_id="h2/b")
    backlog = queue_backlog(queues=["default"], host_id="h1")
    assert (backlog.waiting, backlog.running, backlog.running_by_worker) == (4, 1, {"h1/a": 1})
    assert backlog.oldest_wait is not None and backlog.oldest_wait >= 0


@pytest.mark.django_db
def test_the_queues_api_gives_depth_and_latency(reader_client):
    JobFactory.create_batch(2, status=S.QUEUED, queue_name="reports")
    JobFactory(status=S.PENDING, queue_name="reports")
    queues = {q["name"]: q for q in reader_client.get("/api/v1/queues").json()}
    assert queues["reports"]["depth"] == 3
    assert queues["reports"]["oldest_waiting_seconds"] >= 0
    assert queues["default"]["depth"] == 0 and queues["default"]["oldest_waiting_seconds"] is None


class FakeSupervisor:
    def __init__(self, host_id):
        self.host_id = host_id
        self.processes = 1
        self.served_queues = ["default"]
        self.requests = []

    def request_resize(self, target, *, busy):
        self.requests.append((target, busy))


@pytest.mark.django_db
def test_a_change_is_requested_recorded_and_shown_on_the_workers_page(staff_browser):
    from jobs.models import WorkerHost

    WorkerHost.objects.create(id="h1", hostname="h", pid=1, processes=1)
    JobFactory.create_batch(5, status=S.QUEUED, queue_name="default")
    supervisor = FakeSupervisor("h1")
    scaler = Autoscaler(bounds=Bounds(1, 3), threads=2)
    scaler.memory_short = lambda: False
    scaler.tick(supervisor)
    assert supervisor.requests == [(2, {})]
    assert WorkerHost.objects.get(pk="h1").processes == 2
    page = staff_browser.get("/workers/").content.decode()
    assert "autoscale-events" in page and "1 → 2" in page and "5 job(s) waiting" in page
