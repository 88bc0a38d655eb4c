"""Checks of what a job will be made of, before anything is written: pure functions, no database.

* ``validate_payload``: args and kwargs are plain JSON (arrays, objects with string keys, strings,
  finite numbers, booleans, null), nested at most ``MAX_DEPTH`` deep, with no NUL character and no
  lone surrogate in any string or key (PostgreSQL's jsonb refuses both), within the size limit.
* ``validate_call``: the arguments bind to the actor's signature, and match its simple type hints.
* ``validate_public_actor``: the actor exists and users may submit it (not ``internal``).
* ``validate_priority``: a priority within ``PRIORITY_RANGE`` (a smallint column allows more).
* ``actor_parameters`` / ``form_call``: an actor's parameters for the dashboard's form, and the
  call its fields stand for (typed by the hints, then checked by ``validate_call`` like any other).

The API, the dashboard, the schedules and the commands call them; so does ``job_submit``.
Every refusal is a ValidationFailed (400) naming the field, or PayloadTooLarge (413).
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from jobs import registry
from jobs.db import json_nodes
from jobs.errors import PayloadTooLarge, UnknownActor, ValidationFailed

MAX_DEPTH = 32
PRIORITY_RANGE = (-100, 100)
_SCALARS = (str, int, float, bool, type(None))


def _path(parts: tuple) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def string_problem(text: str) -> str | None:
    """Why PostgreSQL cannot store ``text`` (jsonb and text columns refuse both), or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def _refuse(field: str, where: tuple, reason: str) -> ValidationFailed:
    path = _path(where)
    return ValidationFailed(
        f"{path}: {reason}.", details={"field": field, "path": path, "reason": reason}, code="invalid_payload"
    )


def _check_json_tree(value, field: str) -> None:
    for node, depth, path, is_key in json_nodes(value, paths=True):
        where = (field, *path)
        if is_key:
            if not isinstance(node, str):
                raise _refuse(field, where, f"has a key {node!r} that is not a string")
            problem = string_problem(node)
            if problem:
                raise _refuse(field, where, f"has a key that {problem}")
            continue
        if depth > MAX_DEPTH:
            raise _refuse(field, where, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            problem = string_problem(node)
            if problem:
                raise _refuse(field, where, problem)
        elif isinstance(node, float):
            if node != node or node in (float("inf"), float("-inf")):
                raise _refuse(field, where, "is not a finite number (NaN and Infinity are not JSON)")
        elif not isinstance(node, (*_SCALARS, list, tuple, dict)):
            raise _refuse(field, where, f"is a {type(node).__name__}, not a JSON value")


def validate_payload(args, kwargs, *, max_bytes: int | None = None) -> tuple[list, dict]:
    """Return (args, kwargs) as the row will store them (round-tripped through JSON).

    Raises ValidationFailed (not an array / object, not JSON, too deep, NUL, lone surrogate) or
    PayloadTooLarge (over ``max_bytes``, by default ``settings.JOBS["MAX_ARGS_BYTES"]``).
    """
    if args is None:
        args = []
    if kwargs is None:
        kwargs = {}
    if not isinstance(args, (list, tuple)):
        raise ValidationFailed("args must be a JSON array.", details={"field": "args"}, code="invalid_payload")
    if not isinstance(kwargs, dict):
        raise ValidationFailed("kwargs must be a JSON object.", details={"field": "kwargs"}, code="invalid_payload")
    _check_json_tree(list(args), "args")
    _check_json_tree(kwargs, "kwargs")
    try:
        encoded = json.dumps([list(args), kwargs], separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:  # e.g. an integer past Python's 4,300-digit limit
        raise ValidationFailed(f"args and kwargs must be JSON: {exc}", code="invalid_payload") from None
    size = len(encoded.encode("utf-8"))
    limit = settings.JOBS["MAX_ARGS_BYTES"] if max_bytes is None else max_bytes
    if size > limit:
        raise PayloadTooLarge(
            f"args and kwargs take {size} bytes as JSON; the limit is {limit}.", details={"limit": limit}
        )
    args, kwargs = json.loads(encoded)
    return args, kwargs


# --- Calls against signatures ------------------------------------------------------------------


def _function_of(target) -> Callable:
    fn = getattr(target, "fn", target)
    if not callable(fn):
        raise TypeError(f"{target!r} has no function to check a call against")
    return fn


def _type_hints(fn) -> dict:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # a hint that cannot be resolved is not checked, rather than breaking submits
        return {}


def _accepts(hint, value) -> bool | None:
    """Whether a JSON ``value`` fits a simple hint; None when the hint is not one we check."""
    if hint is typing.Any:
        return True
    if hint is type(None) or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin = typing.get_origin(hint) or hint
    if origin in (list, tuple):
        return isinstance(value, list)
    if origin is dict:
        return isinstance(value, dict)
    if origin in (typing.Union, types.UnionType):
        answers = [_accepts(option, value) for option in typing.get_args(hint)]
        if any(answer is True for answer in answers):
            return True
        return None if any(answer is None for answer in answers) else False
    return None


def _hint_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def validate_call(target, args, kwargs) -> None:
    """Check that ``target(*args, **kwargs)`` would bind: ``target`` is an ActorSpec or a function.

    Raises ValidationFailed naming the parameter (missing, unexpected, or of the wrong JSON type).
    """
    fn = _function_of(target)
    signature = inspect.signature(fn)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        quoted = re.search(r"'([^']+)'", str(exc))
        parameter = quoted.group(1) if quoted else None
        raise ValidationFailed(
            f"The arguments do not fit {getattr(target, 'name', fn.__name__)}{signature}: {exc}.",
            details={"field": "kwargs" if parameter in kwargs else "args", "parameter": parameter},
            code="invalid_arguments",
        ) from None
    hints = _type_hints(fn)
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if name not in hints or kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if _accepts(hints[name], value) is False:
            raise ValidationFailed(
                f"{name} must be {_hint_name(hints[name])}, not {type(value).__name__} {value!r:.100}.",
                details={"field": "kwargs" if name in kwargs else "args", "parameter": name},
                code="invalid_arguments",
            )


# --- Actors and priorities ---------------------------------------------------------------------


def validate_public_actor(actor_name) -> registry.ActorSpec:
    """The spec of an actor that users may submit; UnknownActor or ValidationFailed otherwise."""
    valid = registry.public_actor_names()
    spec = registry.get_spec(actor_name) if isinstance(actor_name, str) else None
    if spec is None:
        raise UnknownActor(
            f"Unknown actor {str(actor_name)[:200]!r}. Valid actors: {', '.join(valid)}.",
            details={"field": "actor", "valid_actors": valid},
        )
    if spec.internal:
        raise ValidationFailed(
            f"{spec.name} is internal: the platform runs it itself. Valid actors: {', '.join(valid)}.",
            details={"field": "actor", "valid_actors": valid},
            code="internal_actor",
        )
    return spec


def validate_priority(priority) -> int:
    low, high = PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
        raise ValidationFailed(
            f"priority must be a whole number from {low} to {high}.",
            details={"field": "priority", "min": low, "max": high},
        )
    return priority


# --- Parameters from signatures, for the dashboard's submission form ---------------------------

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Parameter:
    """One parameter of an actor, as a form shows it: ``input`` is number, text, bool or json."""

    name: str
    kind: inspect._ParameterKind
    hint: object
    required: bool
    default_text: str

    @property
    def type_name(self) -> str:
        if self.kind == inspect.Parameter.VAR_POSITIONAL:
            return "list (more positional arguments)"
        if self.kind == inspect.Parameter.VAR_KEYWORD:
            return "dict (more keyword arguments)"
        return "" if self.hint is _EMPTY else _hint_name(self.hint)

    @property
    def input(self) -> str:
        hint = _without_none(self.hint)
        if self.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            return "json"
        if hint is bool:
            return "bool"
        if hint in (int, float):
            return "number"
        return "text" if hint in (str, _EMPTY) else "json"

    @property
    def step(self) -> str:
        return "1" if _without_none(self.hint) is int else "any"


def _without_none(hint):
    """``X`` for ``X | None`` (and ``Optional[X]``); the hint itself otherwise."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        return options[0] if len(options) == 1 else hint
    return hint


def _default_text(value) -> str:
    try:
        return json.dumps(value) if not isinstance(value, str) else value
    except (TypeError, ValueError):
        return repr(value)


def actor_parameters(target) -> list[Parameter]:
    """The parameters of an actor (ActorSpec or function), with their hints and defaults."""
    fn = _function_of(target)
    hints = _type_hints(fn)
    return [
        Parameter(
            name=p.name,
            kind=p.kind,
            hint=hints.get(p.name, _EMPTY),
            required=p.default is _EMPTY and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD),
            default_text="" if p.default is _EMPTY else _default_text(p.default),
        )
        for p in inspect.signature(fn).parameters.values()
    ]


def actor_summary(target) -> str:
    """The first line of an actor's docstring ("" without one)."""
    doc = inspect.getdoc(_function_of(target)) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _form_value(parameter: Parameter, text: str):
    """The JSON value a form's text stands for, by the parameter's hint; ValidationFailed if none."""
    hint = _without_none(parameter.hint)
    try:
        if text == "null" and hint is not parameter.hint:
            return None
        if parameter.input == "json":
            value = json.loads(text)
        elif hint is bool:
            value = {"true": True, "false": False}[text.lower()]
        elif hint is int:
            value = int(text)
        elif hint is float:
            value = float(text)
        else:
            value = text
    except (ValueError, KeyError):
        kind = parameter.type_name if parameter.input != "json" else "JSON"
        raise ValidationFailed(
            f"{parameter.name} must be {kind or 'a value'}, not {text!r:.100}.",
            details={"field": "kwargs", "parameter": parameter.name},
            code="invalid_arguments",
        ) from None
    if parameter.kind == inspect.Parameter.VAR_POSITIONAL and not isinstance(value, list):
        raise ValidationFailed(f"{parameter.name} must be a JSON array.", details={"parameter": parameter.name})
    if parameter.kind == inspect.Parameter.VAR_KEYWORD and not isinstance(value, dict):
        raise ValidationFailed(f"{parameter.name} must be a JSON object.", details={"parameter": parameter.name})
    return value


def form_call(target, texts: dict[str, str]) -> tuple[list, dict]:
    """(args, kwargs) from a form's text per parameter name; an empty text leaves the default.

    The values are typed by the parameters' hints; the call itself is then checked by
    ``validate_call`` (which ``job_submit`` runs), like any call from the API or a command.
    """
    args: list = []
    kwargs: dict = {}
    for parameter in actor_parameters(target):
        text = (texts.get(parameter.name) or "").strip()
        if not text:
            continue
        value = _form_value(parameter, text)
        if parameter.kind == inspect.Parameter.POSITIONAL_ONLY:
            args.append(value)
        elif parameter.kind == inspect.Parameter.VAR_POSITIONAL:
            args.extend(value)
        elif parameter.kind == inspect.Parameter.VAR_KEYWORD:
            kwargs.update(value)
        else:
            kwargs[parameter.name] = value
    return args, kwargs
