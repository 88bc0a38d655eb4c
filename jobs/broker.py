"""The engine's side of Dramatiq's Redis broker: publish messages, ask what Redis still holds.

The engine writes its messages into Dramatiq's own Redis layout (``<ns>:<queue>``, a list of
message ids; ``<ns>:<queue>.msgs``, a hash of id → message, kept until the message is acked) in one
MULTI/EXEC pipeline per batch, for two reasons: many jobs cost one round trip, and a message can go
to the *head* of its queue, so a job whose worker died keeps its place. Dramatiq's delay queues are
not used: a job waits in the database until it is due (see ``jobs.states``), so every message in
Redis is ready to run and stays in ``.msgs`` under an id derived from (job id, token) until acked.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis, dq_name

# Set on a message whose success the engine acknowledges itself, after the commit (see
# jobs.worker.runtime): Dramatiq's own acknowledgement of it is then skipped.
ACKED_AFTER_COMMIT = "acked_after_commit"


class _Consumer(_RedisConsumer):
    """Dramatiq's Redis consumer, plus: what it had prefetched is given back when it is closed.

    On a connection error (an ack that fails while Redis restarts) Dramatiq's consumer thread closes
    its consumer and starts a new one; the old one's prefetched messages are dropped from memory
    while Redis keeps them in this process's ack set. The process stays alive and keeps beating, so
    no dead-consumer requeue ever takes them back: those jobs would wait for ever. ``close`` hands
    them back, at once when Redis answers, else through the next consumer of the same queue.
    """

    def ack(self, message):
        if message.options.get(ACKED_AFTER_COMMIT):
            self.queued_message_ids.discard(message.message_id)  # prefetch accounting only
            return
        super().ack(message)

    def close(self):
        orphans = _orphaned.setdefault((id(self.broker), self.queue_name), set())
        for data in self.message_cache:
            if data is not None:
                orphans.add(dramatiq.Message.decode(data).options["redis_message_id"])
        self.message_cache = []
        self._give_back_orphans()
        super().close()

    def __next__(self):
        if _orphaned.get((id(self.broker), self.queue_name)):
            self._give_back_orphans()
        return super().__next__()

    def _give_back_orphans(self) -> None:
        orphans = _orphaned.get((id(self.broker), self.queue_name))
        if not orphans:
            return
        ids = sorted(orphans)
        try:
            self.broker.do_requeue(self.queue_name, *ids)  # only ids still in this process's ack set
        except redis.ConnectionError:
            return  # still down: the next consumer of this queue tries again
        orphans.difference_update(ids)


# (broker, queue) → prefetched message ids a closed consumer could not give back yet.
_orphaned: dict[tuple[int, str], set[str]] = {}


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
_scripts: dict = {}


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
    script = _scripts.get("requeue")
    if script is None:
        script = _scripts["requeue"] = current.client.register_script(_REQUEUE_DEAD_CONSUMER)
    drop = [str(x) for x in drop_message_ids if x]
    names = []
    for queue_name in queues:
        names += [queue_name, dq_name(queue_name)]
    args = [current.namespace, broker_id, len(drop), *drop, *names]
    return int(script(keys=[f"{current.namespace}:__heartbeats__"], args=args))


def ack_messages(pairs) -> None:
    """Acknowledge (queue, broker message id) pairs of this process's consumers in one round
    trip, exactly as Dramatiq's consumer would one by one (its ``dispatch`` script, command ack)."""
    if not pairs:
        return
    current = broker()
    script = current.scripts["dispatch"]
    pipe = current.client.pipeline(transaction=False)
    for queue_name, message_id in pairs:
        args = [
            "ack",
            current_millis(),
            queue_name,
            current.broker_id,
            current.heartbeat_timeout,
            current.dead_message_ttl,
            0,  # no maintenance on ack (Dramatiq never does it on ack either)
            current._max_unpack_size(),
            message_id,
        ]
        script(keys=[current.namespace], args=args, client=pipe)
    pipe.execute()


def queue_depths(queues) -> dict[str, int]:
    """Messages waiting (not yet fetched) in each queue."""
    pipe = broker().client.pipeline(transaction=False)
    for queue_name in queues:
        pipe.llen(queue_key(queue_name))
    return dict(zip(queues, pipe.execute(), strict=True))
