"""A generated data set that exercises every operator, and the rules that go with it."""

import random
from datetime import date, timedelta

from django.utils import timezone

RULES = [
    {"field": "amount", "operator": "lte", "value": 10000, "value_type": "number"},
    {"field": "amount", "operator": "gt", "value": 0, "value_type": "number"},
    {"field": "amount", "operator": "between", "value": [10, 5000], "value_type": "number"},
    {"field": "amount", "operator": "lt", "value": 9000.5, "value_type": "number"},
    {"field": "amount", "operator": "gte", "value": 5, "value_type": "number"},
    {"field": "currency", "operator": "in", "value": ["USD", "EUR", "GBP"], "value_type": "list"},
    {"field": "country", "operator": "not_in", "value": ["KP", "IR"], "value_type": "list"},
    {"field": "priority", "operator": "in", "value": [1, 2, 3], "value_type": "list"},
    {"field": "status", "operator": "equals", "value": "approved", "value_type": "string"},
    {"field": "status", "operator": "not_equals", "value": "rejected", "value_type": "string"},
    {"field": "approved", "operator": "equals", "value": True, "value_type": "boolean"},
    {"field": "approved", "operator": "not_equals", "value": False, "value_type": "boolean"},
    {"field": "approver", "operator": "is_not_empty"},
    {"field": "notes", "operator": "is_empty"},
    {"field": "po_number", "operator": "exists"},
    {"field": "legacy_code", "operator": "missing"},
    {"field": "vendor.name", "operator": "contains", "value": "Corp", "value_type": "string"},
    {"field": "tags", "operator": "contains", "value": "urgent", "value_type": "string"},
    {"field": "scores", "operator": "contains", "value": 7, "value_type": "number"},
    {"field": "line_items[0].qty", "operator": "gte", "value": 1, "value_type": "number"},
    {"field": "line_items[1].sku", "operator": "starts_with", "value": "SKU-", "value_type": "string"},
    {"field": "email", "operator": "matches", "value": r"^[a-z0-9.]+@example\.(com|org)$", "value_type": "string"},
    {"field": "invoice_date", "operator": "within_last", "value": 90, "value_type": "number"},
    {"field": "invoice_date", "operator": "older_than", "value": 30, "value_type": "number"},
    {"field": "due_date", "operator": "before", "value": "2027-01-01", "value_type": "date"},
    {"field": "due_date", "operator": "after", "value": "2020-01-01", "value_type": "date"},
    {"field": "due_date", "operator": "equals", "value": "2026-06-30", "value_type": "date"},
    {"field": "due_date", "operator": "between", "value": ["2025-01-01", "2026-12-31"], "value_type": "date"},
    {
        "operator": "any",
        "conditions": [{"field": "po_number", "operator": "exists"}, {"field": "contract_id", "operator": "exists"}],
    },
    {
        "operator": "all",
        "conditions": [
            {"field": "amount", "operator": "lte", "value": 5000, "value_type": "number"},
            {"field": "currency", "operator": "equals", "value": "USD", "value_type": "string"},
        ],
    },
    {
        "operator": "not",
        "conditions": [{"field": "status", "operator": "equals", "value": "draft", "value_type": "string"}],
    },
    {
        "operator": "any",
        "conditions": [
            {
                "operator": "all",
                "conditions": [
                    {"field": "country", "operator": "equals", "value": "US", "value_type": "string"},
                    {"field": "amount", "operator": "lt", "value": 100, "value_type": "number"},
                ],
            },
            {
                "operator": "not",
                "conditions": [{"field": "vendor.tier", "operator": "in", "value": ["gold"], "value_type": "list"}],
            },
        ],
    },
]

STATUSES = ["approved", "rejected", "draft", "pending", "APPROVED", "", None]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "usd", 42, None]
COUNTRIES = ["US", "CA", "MX", "KP", "IR", "DE", None, 7]


def _maybe(rng, value, absent=0.1):
    return "__absent__" if rng.random() < absent else value


def _amount(rng):
    return rng.choice(
        [
            rng.randint(-50, 12000),
            round(rng.uniform(0, 20000), 2),
            str(rng.randint(0, 15000)),
            f" {rng.randint(0, 100)} ",
            "12abc",
            True,
            None,
            [1],
            10000,
            10000.0,
            "1e3",
            9000.5,
        ]
    )


def _day(rng, today):
    d = today - timedelta(days=rng.randint(-400, 800))
    return rng.choice(
        [d.isoformat(), d.isoformat() + "T10:30:00Z", "2026-06-30", "2026-13-45", "yesterday", 20240101, None]
    )


def record_data(rng: random.Random, today: date) -> dict:
    fields = {
        "amount": _amount(rng),
        "currency": rng.choice(CURRENCIES),
        "country": rng.choice(COUNTRIES),
        "priority": rng.choice([1, 2, 3, 4, "2", "x", 2.0]),
        "status": rng.choice(STATUSES),
        "approved": rng.choice([True, False, "true", "FALSE", "yes", 1, None]),
        "approver": rng.choice(["alice", "", "   ", None, [], ["bob"], {}]),
        "notes": rng.choice(["", "  ", "call back", None, [], {}, {"a": 1}]),
        "po_number": rng.choice(["PO-1", "", None, 17]),
        "contract_id": rng.choice(["C-9", None]),
        "legacy_code": rng.choice(["L1", None, ""]),
        "vendor": rng.choice(
            [{"name": "Acme Corp", "tier": "gold"}, {"name": "Globex", "tier": "silver"}, {"name": 5}, {}, "Corp"]
        ),
        "tags": rng.choice([["urgent", "x"], ["URGENT"], [], "urgent-ish", "calm", [1, "urgent"]]),
        "scores": rng.choice([[7, 8], [7.0], ["7"], [True, 1], [], 7, [1, [7]]]),
        "line_items": rng.choice(
            [
                [{"qty": 0, "sku": "SKU-1"}, {"qty": 2, "sku": "SKU-2"}],
                [{"qty": "3"}],
                [],
                [{"qty": 5}, {"sku": "X-1"}],
                "none",
            ]
        ),
        "email": rng.choice(["a.b@example.com", "x@example.org", "bad@evil.com", "A@example.com", "", 12]),
        "invoice_date": _day(rng, today),
        "due_date": _day(rng, today),
    }
    return {key: value for key, value in ((k, _maybe(rng, v)) for k, v in fields.items()) if value != "__absent__"}


def generate(count: int, *, seed: int = 11, today: date | None = None) -> list[dict]:
    rng = random.Random(seed)
    today = today or timezone.localdate()  # the day scans evaluate relative dates on
    return [record_data(rng, today) for _ in range(count)]
