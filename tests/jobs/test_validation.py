"""jobs.validation: the checks made before a job (or a schedule) is written."""

import json

import pytest

from jobs import registry, validation
from jobs.errors import PayloadTooLarge, UnknownActor, ValidationFailed


def nested(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("args", "kwargs", "reason"),
    [
        (["a\x00b"], {}, "NUL"),
        ([], {"k": "\ud800"}, "lone surrogate"),
        ([], {"\x00": 1}, "NUL"),
        ([{"deep": nested(40)}], {}, "nested deeper than 32"),
        ([nested(5000)], {}, "nested deeper than 32"),  # no RecursionError
        ([float("nan")], {}, "finite"),
        ([b"bytes"], {}, "not a JSON value"),
        ([], {1: "x"}, "not a string"),
    ],
)
def test_payloads_postgresql_or_json_cannot_hold_are_refused(args, kwargs, reason):
    with pytest.raises(ValidationFailed) as caught:
        validation.validate_payload(args, kwargs)
    assert reason in caught.value.message
    assert caught.value.details["field"] in ("args", "kwargs") and caught.value.details["path"]


def test_the_path_names_the_bad_value():
    with pytest.raises(ValidationFailed) as caught:
        validation.validate_payload([1, {"a": ["ok", "no\x00"]}], {})
    assert caught.value.details["path"] == "args[1].a[1]"


def test_args_and_kwargs_must_be_an_array_and_an_object():
    with pytest.raises(ValidationFailed, match="args must be a JSON array"):
        validation.validate_payload({"a": 1}, {})
    with pytest.raises(ValidationFailed, match="kwargs must be a JSON object"):
        validation.validate_payload([], [1])


def test_size_limit_and_round_trip(settings):
    settings.JOBS = {**settings.JOBS, "MAX_ARGS_BYTES": 100}
    with pytest.raises(PayloadTooLarge) as caught:
        validation.validate_payload(["x" * 200], {})
    assert caught.value.details == {"limit": 100}
    args, kwargs = validation.validate_payload((1, "é", [True, None]), {"n": 1.5})
    assert (args, kwargs) == ([1, "é", [True, None]], {"n": 1.5})
    assert json.dumps([args, kwargs])


def countdown(seconds: int = 10, *, label: str | None = None, ratio: float = 1.0, tags: list | None = None):
    return seconds


@pytest.mark.parametrize(
    ("args", "kwargs", "parameter"),
    [
        ([1, 2], {}, None),  # too many positional arguments
        ([], {"nope": 1}, "nope"),
        (["ten"], {}, "seconds"),
        ([True], {}, "seconds"),  # a JSON boolean is not a number
        ([], {"label": 3}, "label"),
        ([], {"ratio": "1"}, "ratio"),
        ([], {"tags": {}}, "tags"),
    ],
)
def test_calls_that_do_not_fit_the_signature_name_the_parameter(args, kwargs, parameter):
    with pytest.raises(ValidationFailed) as caught:
        validation.validate_call(countdown, args, kwargs)
    assert caught.value.code == "invalid_arguments"
    assert caught.value.details["parameter"] == parameter


def test_calls_that_fit_pass():
    validation.validate_call(countdown, [], {})
    validation.validate_call(countdown, [5], {"label": None, "ratio": 2, "tags": ["a"]})
    validation.validate_call(registry.get_spec("echo"), [1, [2]], {"any": {"thing": 1}})


def test_internal_and_unknown_actors_are_refused_for_users():
    assert validation.validate_public_actor("echo").name == "echo"
    with pytest.raises(ValidationFailed) as caught:
        validation.validate_public_actor("jobs.prune")
    assert caught.value.code == "internal_actor"
    assert "jobs.prune" not in caught.value.details["valid_actors"]
    with pytest.raises(UnknownActor):
        validation.validate_public_actor("no.such")
    with pytest.raises(UnknownActor):
        validation.validate_public_actor(None)


def test_maintenance_report_and_scheduler_actors_are_internal():
    internal = {spec.name for spec in registry.all_specs() if spec.internal}
    assert {
        "jobs.prune",
        "jobs.recover",
        "jobs.health_check",
        "reports.generate_store_report",
        "reports.generate_task_report",
        "reports.request_daily_task_report",
    } <= internal
    assert {"echo", "countdown", "noop", "demo.flaky", "demo.always_fails"} <= set(registry.public_actor_names())
    with pytest.raises(ValueError, match="visibility"):
        registry.job_actor(lambda: None, actor_name="t.bad_visibility", visibility="secret")


@pytest.mark.parametrize("priority", [101, -101, 40000, True, "1", 1.0])
def test_priorities_outside_the_range_are_refused(priority):
    with pytest.raises(ValidationFailed, match="priority"):
        validation.validate_priority(priority)
    assert validation.validate_priority(-100) == -100
