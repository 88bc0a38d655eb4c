"""Rules from policy text: a small, documented grammar of requirement sentences (README, Monitoring).

Deterministic: each sentence either matches one pattern and becomes one rule that keeps its
sentence and position, or is listed with the reason it was not understood. Nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jobs.errors import ValidationFailed
from monitoring import rules as R

BULLET_RE = re.compile(r"^\s*(?:[-*•]|\(?\d{1,3}[.)])\s+")
SENTENCE_RE = re.compile(r"\S[^\n]*?(?:[.!?](?=\s|$)|(?=\n)|$)")
FIELD = r"(?P<field>`[^`]+`|[a-z][a-z0-9 _\-]*?)"
NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
DATE = r"\d{4}-\d{2}-\d{2}"
VALUE = r"\"[^\"]*\"|'[^']*'|`[^`]*`|[^\s\"'`]+"


@dataclass(frozen=True)
class Extracted:
    sentence: str
    start: int
    end: int
    rule: dict | None = None  # rule fields for rule_create
    reason: str = ""


def field_path(phrase: str) -> str:
    """``Invoice date`` → ``invoice_date``; a backticked phrase is taken as the path itself."""
    phrase = phrase.strip()
    if phrase.startswith("`") and phrase.endswith("`"):
        return phrase[1:-1].strip()
    phrase = re.sub(r"^(the|a|an|each|every)\s+", "", phrase, flags=re.I)
    return re.sub(r"[\s\-]+", "_", phrase.strip().lower())


def _number(text: str):
    value = float(text.replace(",", ""))
    return int(value) if value.is_integer() else value


def _scalar(text: str) -> tuple[object, str]:
    """A value as written: quoted text, true/false, a number, an ISO date, or bare text."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        return text[1:-1], R.STRING
    if text.lower() in ("true", "false"):
        return text.lower() == "true", R.BOOLEAN
    if re.fullmatch(NUMBER, text):
        return _number(text), R.NUMBER
    if re.fullmatch(DATE, text):
        return text, R.DATE
    return text, R.STRING


def _items(text: str) -> list[str]:
    parts = re.split(r"\s*,\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+", text.strip())
    return [p.strip().strip("\"'`") for p in parts if p.strip()]


def _list_value(text: str) -> list:
    items = _items(text)
    if items and all(re.fullmatch(NUMBER, i) for i in items):
        return [_number(i) for i in items]
    return items


def _leaf(field: str, operator: str, value=None, value_type: str = "") -> dict:
    return {"field": field_path(field), "operator": operator, "value": value, "value_type": value_type}


def _comparison(operator):
    def build(m):
        value, value_type = _scalar(m["value"])
        return _leaf(m["field"], operator, value, value_type)

    return build


def _presence_group(m) -> dict:
    fields = [m["a"], m["b"]] if m.groupdict().get("a") else _items(m["list"])
    return {"operator": "any", "conditions": [_leaf(f, "exists") for f in fields]}


def _equality(m) -> dict:
    value, value_type = _scalar(m["value"])
    return _leaf(m["field"], "not_equals" if m["neg"] else "equals", value, value_type)


def _contains(m) -> dict:
    value, value_type = _scalar(m["value"])
    leaf = _leaf(m["field"], "contains", str(value) if value_type != R.NUMBER else value, value_type)
    if value_type not in (R.STRING, R.NUMBER):
        leaf.update(value=str(value), value_type=R.STRING)
    return {"operator": "not", "conditions": [leaf]} if m["neg"] else leaf


def _between(m) -> dict:
    low, low_type = _scalar(m["low"])
    high, high_type = _scalar(m["high"])
    return _leaf(m["field"], "between", [low, high], low_type if low_type == high_type else R.STRING)


PRESENT = r"(?:present|provided|given|set|filled in|supplied)"
# (pattern, builder), tried in order; the generic "must be X" comes last.
PATTERNS = [
    (rf"^either {FIELD.replace('field', 'a')} or {FIELD.replace('field', 'b')} must be {PRESENT}$", _presence_group),
    (rf"^(?:at least )?one of (?P<list>.+?) must be {PRESENT}$", _presence_group),
    (
        rf"^{FIELD} must (?:be at most|not exceed|be no (?:more|greater) than) (?P<value>{NUMBER}|{DATE})$",
        _comparison("lte"),
    ),
    (rf"^{FIELD} must be (?:at least|no (?:less|fewer) than) (?P<value>{NUMBER}|{DATE})$", _comparison("gte")),
    (rf"^{FIELD} must be (?:greater|more|higher) than (?P<value>{NUMBER})$", _comparison("gt")),
    (rf"^{FIELD} must be (?:less|fewer|lower) than (?P<value>{NUMBER})$", _comparison("lt")),
    (rf"^{FIELD} must be between (?P<low>{NUMBER}|{DATE}) and (?P<high>{NUMBER}|{DATE})$", _between),
    (
        rf"^{FIELD} must be within the (?:last|past) (?P<value>\d+) days?$",
        lambda m: _leaf(m["field"], "within_last", int(m["value"]), R.NUMBER),
    ),
    (
        rf"^{FIELD} must be (?:older than|more than) (?P<value>\d+) days?(?: old)?$",
        lambda m: _leaf(m["field"], "older_than", int(m["value"]), R.NUMBER),
    ),
    (
        rf"^{FIELD} must be (?P<op>before|after) (?P<value>{DATE})$",
        lambda m: _leaf(m["field"], m["op"].lower(), m["value"], R.DATE),
    ),
    (
        rf"^{FIELD} must (?P<neg>not )?be (?:one of|in) (?P<list>.+)$",
        lambda m: _leaf(m["field"], "not_in" if m["neg"] else "in", _list_value(m["list"]), R.LIST),
    ),
    (
        rf"^{FIELD} must (?P<neg>not )?be (?:empty|blank)$",
        lambda m: _leaf(m["field"], "is_not_empty" if m["neg"] else "is_empty"),
    ),
    (rf"^{FIELD} must (?:be {PRESENT}|exist)$", lambda m: _leaf(m["field"], "exists")),
    (rf"^{FIELD} must (?:be absent|not be {PRESENT}|not exist)$", lambda m: _leaf(m["field"], "missing")),
    (rf"^{FIELD} must (?P<neg>not )?contain (?P<value>.+)$", _contains),
    (
        rf"^{FIELD} must (?:start|begin) with (?P<value>.+)$",
        lambda m: _leaf(m["field"], "starts_with", str(_scalar(m["value"])[0]), R.STRING),
    ),
    (
        r"^" + FIELD + r" must match (?P<value>/.+/|\".+\"|'.+'|`.+`)$",
        lambda m: _leaf(m["field"], "matches", m["value"][1:-1], R.STRING),
    ),
    # A bare value is one word: "Status must be approved."; say 'in review' with quotes.
    (rf"^{FIELD} must (?P<neg>not )?(?:be equal to|equal|be) (?P<value>{VALUE})$", _equality),
]
COMPILED = [(re.compile(pattern, re.I), build) for pattern, build in PATTERNS]


def sentences(text: str) -> list[tuple[str, int, int]]:
    """The sentences of a text with their [start, end) offsets; list bullets are not part of them."""
    found = []
    offset = 0
    for line in text.splitlines(keepends=True):
        bullet = BULLET_RE.match(line)
        skip = bullet.end() if bullet else 0
        for m in SENTENCE_RE.finditer(line, skip):
            sentence = m.group(0).rstrip()
            if sentence:
                found.append((sentence, offset + m.start(), offset + m.start() + len(sentence)))
        offset += len(line)
    return found


def parse_sentence(sentence: str) -> tuple[dict | None, str]:
    body = re.sub(r"\s+", " ", sentence.strip().rstrip(".!?;").strip())
    if not re.search(r"\bmust\b", body, re.I):
        return None, "not a requirement: the grammar's sentences say what a field must be"
    for pattern, build in COMPILED:
        m = pattern.match(body)
        if not m:
            continue
        rule = build(m)
        try:
            R.validate_condition(rule)
        except ValidationFailed as exc:
            return None, f"understood, but {exc.message}"
        return rule, ""
    return None, "no pattern of the grammar matches this sentence"


def extract(text: str) -> list[Extracted]:
    results = []
    for sentence, start, end in sentences(text or ""):
        rule, reason = parse_sentence(sentence)
        results.append(Extracted(sentence=sentence, start=start, end=end, rule=rule, reason=reason))
    return results
