"""Demo data for compliance monitoring: three policies, a few thousand records, one scan's worth of violations.

Deterministic (seeded) and skipped when a policy exists already. Part of the rules come from the
policies' text through the extraction grammar, as an analyst would create them.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from monitoring import scans, services
from monitoring.models import Policy, Record, Rule, ScanMode, Violation

INVOICE_TEXT = """Invoices over the approval limit need a second look.
Amount must be at most 10000.
Approver must not be empty.
Currency must be one of USD, EUR, GBP.
Invoice date must be within the last 365 days.
Either PO number or contract id must be present.
Invoices should be filed promptly."""

VENDOR_RULES = [
    {
        "field": "country",
        "operator": "not_in",
        "value": ["KP", "IR", "SY"],
        "value_type": "list",
        "message": "Sanctioned country",
    },
    {
        "field": "tax_id",
        "operator": "matches",
        "value": r"^[A-Z]{2}[0-9]{6,10}$",
        "value_type": "string",
        "message": "Tax id format",
    },
    {"field": "bank.iban", "operator": "exists", "message": "Bank account on file"},
]
CONTRACT_RULES = [
    {
        "field": "end_date",
        "operator": "after",
        "value": "2025-12-31",
        "value_type": "date",
        "message": "Contract expired",
    },
    {"field": "signed", "operator": "equals", "value": True, "value_type": "boolean", "message": "Signed contract"},
    {
        "operator": "any",
        "conditions": [
            {"field": "value", "operator": "lte", "value": 50000, "value_type": "number"},
            {"field": "board_approval", "operator": "equals", "value": True, "value_type": "boolean"},
        ],
        "message": "Contracts over 50,000 need board approval",
    },
]


def _invoice(rng: random.Random, i: int, today: date) -> dict:
    data = {
        "id": f"INV-{i:05d}",
        "amount": round(rng.lognormvariate(7.5, 1.0), 2),
        "approver": rng.choice(["ana", "ben", "chen", "", "dana"]),
        "currency": rng.choice(["USD"] * 6 + ["EUR", "GBP", "JPY"]),
        "invoice_date": (today - timedelta(days=rng.randint(0, 420))).isoformat(),
    }
    if rng.random() < 0.85:
        data["po_number"] = f"PO-{rng.randint(1000, 9999)}"
    elif rng.random() < 0.5:
        data["contract_id"] = f"C-{rng.randint(100, 999)}"
    return data


def _vendor(rng: random.Random, i: int) -> dict:
    data = {
        "id": f"V-{i:04d}",
        "name": f"Vendor {i}",
        "country": rng.choice(["US", "DE", "FR", "CA", "MX", "IR"] + ["US"] * 10),
        "tax_id": rng.choice(["US1234567", "DE99887766", "bad-id", "FR1234567890"]),
    }
    if rng.random() < 0.9:
        data["bank"] = {"iban": f"DE{rng.randint(10**18, 10**19)}"}
    return data


def _contract(rng: random.Random, i: int, today: date) -> dict:
    return {
        "id": f"K-{i:04d}",
        "end_date": (today + timedelta(days=rng.randint(-200, 700))).isoformat(),
        "signed": rng.random() < 0.93,
        "value": rng.choice([5000, 20000, 45000, 80000, 150000]),
        "board_approval": rng.random() < 0.5,
    }


def seed(*, invoices: int = 3000, vendors: int = 400, contracts: int = 300) -> str:
    if Policy.objects.exists():
        return "policies exist already, nothing added"
    rng = random.Random(10)
    today = date.today()
    now = timezone.now()
    with transaction.atomic():
        invoice_policy = services.policy_create(
            name="Invoice controls",
            severity="high",
            text=INVOICE_TEXT,
            description="Accounts payable controls.",
            sources=["ap"],
        )
        extracted = services.rules_extract(policy_id=invoice_policy.pk)
        Rule.objects.filter(policy=invoice_policy).update(enabled=True)  # reviewed and enabled for the demo
        vendor_policy = services.policy_create(name="Vendor due diligence", severity="critical", sources=["vendors"])
        contract_policy = services.policy_create(name="Contract hygiene", severity="medium", sources=["contracts"])
        for policy, rules in ((vendor_policy, VENDOR_RULES), (contract_policy, CONTRACT_RULES)):
            for rule in rules:
                services.rule_create(policy_id=policy.pk, **rule)
        records = [
            Record(source="ap", external_id=f"INV-{i:05d}", data=_invoice(rng, i, today)) for i in range(invoices)
        ]
        records += [Record(source="vendors", external_id=f"V-{i:04d}", data=_vendor(rng, i)) for i in range(vendors)]
        records += [
            Record(source="contracts", external_id=f"K-{i:04d}", data=_contract(rng, i, today))
            for i in range(contracts)
        ]
        for record in records:
            record.created_at = record.updated_at = now
        Record.objects.bulk_create(records, batch_size=1000)
    result = scans.scan_execute(mode=ScanMode.FULL)
    first = Violation.objects.filter(policy=vendor_policy).order_by("id").first()
    if first is not None:
        services.violation_act(violation_id=first.pk, action="acknowledge", note="Compliance is checking it")
        services.waiver_create(
            rule_id=first.rule_id,
            record_id=first.record_id,
            reason="Approved exception until the vendor's re-registration",
            owner="compliance@example.com",
            expires_at=now + timedelta(days=30),
        )
    return (
        f"{len(records)} records, 3 policies ({len(extracted['created'])} rules extracted from text), "
        f"{result['opened']} violations opened"
    )
