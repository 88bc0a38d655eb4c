"""jobs/broker.py against the real Redis (the test run's own namespace)."""

import uuid

import dramatiq

from jobs import broker


def _publish(queue_name: str, count: int) -> list[str]:
    items = [
        broker.Outgoing(
            job_id=str(uuid.uuid4()), token=0, queue_name=queue_name, actor_name="echo", args=[i], kwargs={}
        )
        for i in range(count)
    ]
    broker.publish(items)
    return [broker.message_key(item) for item in items]


def _drain(consumer, limit: int = 20) -> list[str]:
    got = []
    for _ in range(limit):
        message = next(consumer)
        if message is None:
            if got:
                break
            continue
        got.append(message.options["redis_message_id"])
        consumer.ack(message)
    return got


def test_a_consumer_closed_after_a_connection_error_gives_back_what_it_had_prefetched():
    """Dramatiq's consumer thread closes its consumer on a connection error (e.g. an ack that fails
    while Redis restarts) and opens a new one; the prefetched messages must not stay in this live
    process's ack set, where nothing would ever requeue them."""
    queue_name = f"orphans-{uuid.uuid4().hex[:8]}"
    ids = _publish(queue_name, 3)
    current = dramatiq.get_broker()
    first = current.consume(queue_name, prefetch=3, timeout=100)
    taken = next(first)  # fetches all three, hands out one
    assert taken.options["redis_message_id"] == ids[0]
    first.close()  # what the consumer thread does after the error

    second = current.consume(queue_name, prefetch=3, timeout=100)
    assert sorted(_drain(second)) == sorted(ids[1:])
    second.close()


def test_messages_present_sees_a_published_message_until_it_is_acked():
    queue_name = f"present-{uuid.uuid4().hex[:8]}"
    (message_id,) = _publish(queue_name, 1)
    job_id, token = message_id.split(".")
    assert broker.messages_present([(job_id, int(token), queue_name)]) == [True]
    consumer = dramatiq.get_broker().consume(queue_name, prefetch=1, timeout=100)
    message = next(consumer)
    consumer.ack(message)
    assert broker.messages_present([(job_id, int(token), queue_name)]) == [False]


def _fetch_without_reply(queue_name: str, count: int) -> None:
    """What a fetch whose reply was lost leaves behind: Dramatiq's fetch script ran (the ids moved
    from the queue into this process's ack set) but no consumer ever saw the messages."""
    current = dramatiq.get_broker()
    current.do_fetch(queue_name, count)


def test_a_fetch_whose_reply_was_lost_is_given_back_by_the_next_consumer():
    queue_name = f"lost-fetch-{uuid.uuid4().hex[:8]}"
    ids = _publish(queue_name, 3)
    _fetch_without_reply(queue_name, 2)
    assert broker.queue_depths([queue_name])[queue_name] == 1
    consumer = dramatiq.get_broker().consume(queue_name, prefetch=5, timeout=100)
    got = _drain(consumer)
    assert set(got[:2]) == set(ids[:2]), "given back at the head of the queue"
    assert sorted(got) == sorted(ids)
    consumer.close()


def test_the_sweep_leaves_alone_what_this_process_holds_and_gives_back_what_it_lost():
    queue_name = f"sweep-{uuid.uuid4().hex[:8]}"
    ids = _publish(queue_name, 3)
    consumer = dramatiq.get_broker().consume(queue_name, prefetch=1, timeout=100)
    running = next(consumer)  # handed to a worker thread: held
    assert running.options["redis_message_id"] == ids[0]
    assert consumer.sweep() == 0
    _fetch_without_reply(queue_name, 1)  # ids[1] is now in the ack set, held by nothing
    assert consumer.sweep() == 1
    assert broker.queue_depths([queue_name])[queue_name] == 2
    consumer.ack(running)
    assert sorted(_drain(consumer)) == sorted(ids[1:])
    consumer.close()


def test_a_success_acked_after_its_commit_stays_held_until_the_finisher_acks_it():
    queue_name = f"after-commit-{uuid.uuid4().hex[:8]}"
    (message_id,) = _publish(queue_name, 1)
    consumer = dramatiq.get_broker().consume(queue_name, prefetch=1, timeout=100)
    message = next(consumer)
    message.options[broker.ACKED_AFTER_COMMIT] = True
    consumer.ack(message)  # Dramatiq's ack: skipped, the commit has not happened yet
    assert consumer.sweep() == 0, "still held: the finisher has not acknowledged it"
    broker.ack_messages([(queue_name, message_id)])
    job_id, token = message_id.split(".")
    assert broker.messages_present([(job_id, int(token), queue_name)]) == [False]
    assert consumer.sweep() == 0
    consumer.close()


def test_acknowledging_a_batch_lets_go_of_exactly_its_messages_in_every_queue_it_names():
    """The finisher's ack: Dramatiq's ack (out of the ack set, message deleted) for many messages
    of several queues at once; the messages it does not name stay fetched and stored."""
    current = dramatiq.get_broker()
    queues = [f"batch-ack-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    fetched = {}
    for queue_name in queues:
        _publish(queue_name, 3)
        consumer = current.consume(queue_name, prefetch=3, timeout=100)
        fetched[queue_name] = (consumer, [next(consumer) for _ in range(3)])
    acked = [(q, m.options["redis_message_id"]) for q in queues for m in fetched[q][1][:2]]
    kept = [(q, fetched[q][1][2].options["redis_message_id"]) for q in queues]

    broker.ack_messages(acked)

    def present(pairs):
        return broker.messages_present([(*message_id.split("."), queue_name) for queue_name, message_id in pairs])

    assert present(acked) == [False] * 4
    assert present(kept) == [True] * 2
    for queue_name in queues:
        ack_set = {x.decode() for x in current.client.smembers(broker._acks_key(current, queue_name))}
        assert ack_set == {message_id for q, message_id in kept if q == queue_name}
        consumer, messages = fetched[queue_name]
        consumer.ack(messages[2])
        consumer.close()
    assert current.client.zscore(f"{current.namespace}:__heartbeats__", current.broker_id) is not None


def test_a_batch_ack_leaves_alone_a_message_given_back_meanwhile_and_stamps_the_heartbeat():
    """Dramatiq's ack deletes a message only if it was still in this process's ack set: one given
    back (to run elsewhere) must stay stored and queued, whatever the finisher acks late."""
    current = dramatiq.get_broker()
    queue_name = f"given-back-{uuid.uuid4().hex[:8]}"
    given, acked = _publish(queue_name, 2)
    consumer = current.consume(queue_name, prefetch=2, timeout=100)
    messages = [next(consumer), next(consumer)]
    assert broker._give_back(current, queue_name, [given]) == 1
    heartbeats = f"{current.namespace}:__heartbeats__"
    current.client.zadd(heartbeats, {current.broker_id: 1})

    broker.ack_messages([(queue_name, given), (queue_name, acked)])

    def present(message_id):
        job_id, token = message_id.split(".")
        return broker.messages_present([(job_id, int(token), queue_name)]) == [True]

    assert present(given) and not present(acked)
    assert broker.queue_depths([queue_name])[queue_name] == 1
    assert current.client.zscore(heartbeats, current.broker_id) > 1
    for message in messages:
        message.options[broker.ACKED_AFTER_COMMIT] = True
        consumer.ack(message)
    consumer.close()
