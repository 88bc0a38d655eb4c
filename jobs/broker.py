"""The engine's side of Dramatiq's Redis broker: publish messages, ask what Redis still holds.

The engine writes its messages into Dramatiq's own Redis layout (``<ns>:<queue>``, a list of
message ids; ``<ns>:<queue>.msgs``, a hash of id → message, kept until the message is acked) in one
MULTI/EXEC pipeline per batch, for two reasons: many jobs cost one round trip, and a message can go
to the *head* of its queue, so a job whose worker died keeps its place. Dramatiq's delay queues are
not used: a job waits in the database until it is due (see ``jobs.states``), so every message in
Redis is ready to run and stays in ``.msgs`` under an id derived from (job id, token) until acked.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis, dq_name
from dramatiq.errors import ConnectionClosed

logger = logging.getLogger(__name__)

# Set on a message whose success the engine acknowledges itself, after the commit (see
# jobs.worker.runtime): Dramatiq's own acknowledgement of it is then skipped.
ACKED_AFTER_COMMIT = "acked_after_commit"


class _Consumer(_RedisConsumer):
    """Dramatiq's Redis consumer, plus: this process gives back what sits in its own ack set but
    nothing in it holds any more.

    Redis keeps a fetched message in the fetching process's ack set until it is acked, and only the
    death of that process requeues it. A live process can lose fetched messages from memory: a
    fetch whose reply was lost when Redis went away (the script ran, the ids moved into the ack
    set), a Redis restarted on its AOF that brings back ids of that process's ack set, the
    prefetch cache that Dramatiq's consumer thread drops when it closes the consumer after a
    connection error. The process stays alive and keeps beating, so those jobs would wait for ever.

    So each consumer compares, every ``SWEEP_INTERVAL`` seconds and first thing after it is
    opened or closed, the ack set of its queue with what this process holds (``_Held``) and puts
    the difference back at the head of the queue. Requeueing is safe against races: Dramatiq's
    requeue moves only ids still in the ack set, and a message the engine no longer wants claims
    nothing (its token is fenced).
    """

    SWEEP_INTERVAL = 5.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.held = _Held.of(self.broker, self.queue_name)
        self.next_sweep = 0.0  # at once: the consumer it replaces may have lost messages

    def ack(self, message):
        if message.options.get(ACKED_AFTER_COMMIT):
            # The finisher acks after the commit (ack_messages), and lets go of the message then.
            self.queued_message_ids.discard(message.message_id)  # prefetch accounting only
            return
        super().ack(message)
        self.held.discard(message.options["redis_message_id"])

    def nack(self, message):
        super().nack(message)
        self.held.discard(message.options["redis_message_id"])

    def requeue(self, messages):
        messages = list(messages)
        super().requeue(messages)
        self.held.discard_all(m.options["redis_message_id"] for m in messages)

    def close(self):
        self.message_cache = []  # no longer held: the sweep below gives them back
        try:
            self.sweep()
        except redis.ConnectionError:
            pass  # the next consumer of this queue sweeps first thing
        super().close()

    def __next__(self):
        if time.monotonic() >= self.next_sweep:
            try:
                self.sweep()
            except redis.ConnectionError as exc:
                raise ConnectionClosed(exc) from None
        message = super().__next__()
        if message is not None:
            self.held.add(message.options["redis_message_id"])
        return message

    def sweep(self) -> int:
        """Requeue, at the head of the queue, the ids of this process's ack set that nothing here
        holds. Runs in the consumer thread, the only one that fetches into that set."""
        acks = _acks_key(self.broker, self.queue_name)
        in_redis = {x.decode() if isinstance(x, bytes) else x for x in self.broker.client.smembers(acks)}
        self.next_sweep = time.monotonic() + self.SWEEP_INTERVAL
        cached = {dramatiq.Message.decode(data).options["redis_message_id"] for data in self.message_cache if data}
        lost = sorted(in_redis - cached - self.held.snapshot())
        if lost:
            _give_back(self.broker, self.queue_name, lost)
            logger.warning("Gave back %d message(s) of queue %s lost from memory.", len(lost), self.queue_name)
        return len(lost)


class _Held:
    """The Redis message ids this process was handed by its consumers of one queue and has not
    acknowledged, rejected or requeued yet: waiting for a worker thread, running, or succeeded and
    waiting for the finisher's acknowledgement. Shared by a queue's successive consumers and the
    finisher thread."""

    _all: dict[tuple[int, str], _Held] = {}
    _guard = threading.Lock()

    def __init__(self):
        self.ids: set[str] = set()
        self.lock = threading.Lock()

    @classmethod
    def of(cls, current_broker, queue_name: str) -> _Held:
        with cls._guard:
            return cls._all.setdefault((id(current_broker), queue_name), cls())

    def add(self, message_id: str) -> None:
        with self.lock:
            self.ids.add(message_id)

    def discard(self, message_id: str) -> None:
        with self.lock:
            self.ids.discard(message_id)

    def discard_all(self, message_ids) -> None:
        with self.lock:
            self.ids.difference_update(message_ids)

    def snapshot(self) -> set[str]:
        with self.lock:
            return set(self.ids)


class TrackedRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, except that the engine acknowledges its successes itself, in
    batches, once they are committed: the worker thread does not make a round trip for it."""

    @property
    def consumer_class(self):
        return _Consumer


# Put a dead consumer's unacked messages back at the head of their queues at once (Dramatiq would
# do it at the tail, after its heartbeat timeout, on a random broker call), dropping the ones the
# engine replaced. KEYS: heartbeats zset; ARGV: namespace, broker id, ids to drop, then queues.
_REQUEUE_DEAD_CONSUMER = """
local namespace, broker_id, drop_count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local drop = {}
for i = 4, 3 + drop_count do drop[ARGV[i]] = true end
local requeued = 0
for i = 4 + drop_count, #ARGV do
  local queue = ARGV[i]
  local acks = namespace .. ":__acks__." .. broker_id .. "." .. queue
  local messages = namespace .. ":" .. queue .. ".msgs"
  local ids = redis.call("smembers", acks)
  for _, id in ipairs(ids) do
    if drop[id] then
      redis.call("hdel", messages, id)
    elseif redis.call("hexists", messages, id) == 1 then
      redis.call("lpush", namespace .. ":" .. queue, id)
      requeued = requeued + 1
    end
  end
  redis.call("del", acks)
end
redis.call("zrem", KEYS[1], broker_id)
return requeued
"""
# Put ids of this process's ack set back at the head of their queue, each only if it is still in
# the ack set (not acked meanwhile) and its message is still stored. KEYS: ack set, queue, messages.
_GIVE_BACK = """
local given = 0
for i = 1, #ARGV do
  if redis.call("srem", KEYS[1], ARGV[i]) > 0 and redis.call("hexists", KEYS[3], ARGV[i]) == 1 then
    redis.call("lpush", KEYS[2], ARGV[i])
    given = given + 1
  end
end
return given
"""
# Acknowledge many messages of one queue as Dramatiq's dispatch script acks one ("ack"): a message
# leaves the store only if it was still in this process's ack set (else it was given back, and
# may run elsewhere); the process's broker heartbeat is stamped as every dispatch call does.
# One call per queue and batch instead of one per message: at a thousand jobs a second, Dramatiq's
# per-message script calls were a tenth of a worker's Python time.
# KEYS: ack set, messages hash, heartbeats zset; ARGV: timestamp, broker id, then the message ids.
_ACK_MANY = """
redis.call("zadd", KEYS[3], ARGV[1], ARGV[2])
local acked = 0
for i = 3, #ARGV do
  if redis.call("srem", KEYS[1], ARGV[i]) > 0 then
    redis.call("hdel", KEYS[2], ARGV[i])
    acked = acked + 1
  end
end
return acked
"""
_scripts: dict = {}


def _script(current, name: str, source: str):
    key = (id(current), name)
    if key not in _scripts:
        _scripts[key] = current.client.register_script(source)
    return _scripts[key]


def _acks_key(current, queue_name: str) -> str:
    """This process's ack set for a queue, as Dramatiq's dispatch script names it."""
    return f"{current.namespace}:__acks__.{current.broker_id}.{queue_name}"


def _give_back(current, queue_name: str, message_ids) -> int:
    ns = current.namespace
    keys = [_acks_key(current, queue_name), f"{ns}:{queue_name}", f"{ns}:{queue_name}.msgs"]
    return int(_script(current, "give_back", _GIVE_BACK)(keys=keys, args=list(message_ids)))


def broker():
    return dramatiq.get_broker()


def queue_key(queue_name: str) -> str:
    return f"{broker().namespace}:{queue_name}"


@dataclass(frozen=True)
class Outgoing:
    """One message to publish for a job: at the tail of its queue, or at the head."""

    job_id: str
    token: int
    queue_name: str
    actor_name: str
    args: list
    kwargs: dict
    crash_suspect: bool = False
    front: bool = False


def publish(outgoing: list[Outgoing]) -> None:
    """Publish messages in one MULTI/EXEC. Raises the Redis client's error when the broker is
    unreachable (nothing is published then)."""
    if not outgoing:
        return []
    pipe = broker().client.pipeline(transaction=True)
    for item in outgoing:
        options = {"job_id": item.job_id, "job_token": item.token, "redis_message_id": message_key(item)}
        if item.crash_suspect:
            options["crash_suspect"] = True
        message = dramatiq.Message(
            queue_name=item.queue_name,
            actor_name=item.actor_name,
            args=tuple(item.args),
            kwargs=item.kwargs,
            options=options,
        )
        pipe.hset(f"{queue_key(item.queue_name)}.msgs", message_key(item), message.encode())
    # LPUSH reverses: head messages are pushed last-first so that they keep their order.
    for item in [m for m in outgoing if not m.front] + [m for m in reversed(outgoing) if m.front]:
        (pipe.lpush if item.front else pipe.rpush)(queue_key(item.queue_name), message_key(item))
    pipe.execute()


def message_key(item) -> str:
    """The broker id of a job's message for one token: derived, so the row need not store it."""
    return f"{item.job_id}.{item.token}"


def messages_present(items) -> list[bool]:
    """For each (job_id, token, queue_name): does Redis still hold that message (ready, fetched or
    running, not yet acked)?"""
    if not items:
        return []
    pipe = broker().client.pipeline(transaction=False)
    for job_id, token, queue_name in items:
        pipe.hexists(f"{queue_key(queue_name)}.msgs", f"{job_id}.{token}")
    return [bool(x) for x in pipe.execute()]


def requeue_dead_consumer(broker_id: str, queues, *, drop_message_ids=()) -> int:
    """Give back what a dead worker process had fetched but not acked: at the head of each queue,
    except the messages in ``drop_message_ids`` (replaced by new ones). Returns how many went back."""
    current = broker()
    script = _script(current, "requeue", _REQUEUE_DEAD_CONSUMER)
    drop = [str(x) for x in drop_message_ids if x]
    names = []
    for queue_name in queues:
        names += [queue_name, dq_name(queue_name)]
    args = [current.namespace, broker_id, len(drop), *drop, *names]
    return int(script(keys=[f"{current.namespace}:__heartbeats__"], args=args))


def ack_messages(pairs) -> None:
    """Acknowledge (queue, broker message id) pairs of this process's consumers, one script call
    per queue, exactly as Dramatiq's consumer would one by one (its ``dispatch`` script, command
    ack). The messages are let go of even when Redis is away: the sweep of their consumer then
    gives them back, and a message whose job is done claims nothing."""
    if not pairs:
        return
    current = broker()
    by_queue: dict[str, list[str]] = {}
    for queue_name, message_id in pairs:
        by_queue.setdefault(queue_name, []).append(message_id)
    try:
        _ack_messages(current, by_queue)
    finally:
        for queue_name, message_ids in by_queue.items():
            _Held.of(current, queue_name).discard_all(message_ids)


def _ack_messages(current, by_queue: dict[str, list[str]]) -> None:
    script = _script(current, "ack_many", _ACK_MANY)
    ns = current.namespace
    # A call per queue, not a pipeline: a pipeline of scripts asks SCRIPT EXISTS first, a second
    # round trip, and a batch nearly always holds one queue.
    for queue_name, message_ids in by_queue.items():
        keys = [_acks_key(current, queue_name), f"{ns}:{queue_name}.msgs", f"{ns}:__heartbeats__"]
        script(keys=keys, args=[current_millis(), current.broker_id, *message_ids])


def queue_depths(queues) -> dict[str, int]:
    """Messages waiting (not yet fetched) in each queue."""
    pipe = broker().client.pipeline(transaction=False)
    for queue_name in queues:
        pipe.llen(queue_key(queue_name))
    return dict(zip(queues, pipe.execute(), strict=True))
