"""Bare Dramatiq, no Django: the same Redis broker settings and middleware as the platform,
minus the job engine's tracking. Loaded by the benchmark's worker processes."""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, CurrentMessage, ShutdownNotifications, TimeLimit

broker = RedisBroker(
    url=os.environ["REDIS_URL"],
    namespace=os.environ["DRAMATIQ_NAMESPACE"],
    heartbeat_timeout=15000,
    maintenance_chance=100000,
    middleware=[AgeLimit(), TimeLimit(), Callbacks(), CurrentMessage(), ShutdownNotifications()],
)
dramatiq.set_broker(broker)
COUNTER_KEY = os.environ["BENCH_COUNTER_KEY"]


@dramatiq.actor(actor_name="bench.noop", queue_name="default")
def bench_noop():
    broker.client.incr(COUNTER_KEY)
