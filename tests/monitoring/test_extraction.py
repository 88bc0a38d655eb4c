"""Rule extraction from policy text: the documented grammar, source sentences, reasons for the rest."""

import pytest

from monitoring import services
from monitoring.extraction import extract, parse_sentence, sentences
from monitoring.models import Rule

CASES = [
    ("Amount must be at most 10000.", {"field": "amount", "operator": "lte", "value": 10000, "value_type": "number"}),
    (
        "Amount must not exceed 10,000.50.",
        {"field": "amount", "operator": "lte", "value": 10000.5, "value_type": "number"},
    ),
    ("Approver must not be empty.", {"field": "approver", "operator": "is_not_empty", "value": None, "value_type": ""}),
    (
        "Country must be one of US, CA, MX.",
        {"field": "country", "operator": "in", "value": ["US", "CA", "MX"], "value_type": "list"},
    ),
    (
        "Country must not be one of KP, IR or SY.",
        {"field": "country", "operator": "not_in", "value": ["KP", "IR", "SY"], "value_type": "list"},
    ),
    (
        "Invoice date must be within the last 90 days.",
        {"field": "invoice_date", "operator": "within_last", "value": 90, "value_type": "number"},
    ),
    (
        "Either PO number or contract id must be present.",
        {
            "operator": "any",
            "conditions": [
                {"field": "po_number", "operator": "exists", "value": None, "value_type": ""},
                {"field": "contract_id", "operator": "exists", "value": None, "value_type": ""},
            ],
        },
    ),
    ("Quantity must be at least 1.", {"field": "quantity", "operator": "gte", "value": 1, "value_type": "number"}),
    ("Score must be greater than 3.", {"field": "score", "operator": "gt", "value": 3, "value_type": "number"}),
    ("Risk must be less than 7.", {"field": "risk", "operator": "lt", "value": 7, "value_type": "number"}),
    (
        "Discount must be between 0 and 30.",
        {"field": "discount", "operator": "between", "value": [0, 30], "value_type": "number"},
    ),
    (
        "Status must be 'approved'.",
        {"field": "status", "operator": "equals", "value": "approved", "value_type": "string"},
    ),
    (
        "State must be 'in review'.",
        {"field": "state", "operator": "equals", "value": "in review", "value_type": "string"},
    ),
    (
        "Status must not be draft.",
        {"field": "status", "operator": "not_equals", "value": "draft", "value_type": "string"},
    ),
    ("Signed must be true.", {"field": "signed", "operator": "equals", "value": True, "value_type": "boolean"}),
    ("Legacy code must be absent.", {"field": "legacy_code", "operator": "missing", "value": None, "value_type": ""}),
    ("Notes must be empty.", {"field": "notes", "operator": "is_empty", "value": None, "value_type": ""}),
    ("Tax id must exist.", {"field": "tax_id", "operator": "exists", "value": None, "value_type": ""}),
    ("Name must contain Corp.", {"field": "name", "operator": "contains", "value": "Corp", "value_type": "string"}),
    ("SKU must start with SKU-.", {"field": "sku", "operator": "starts_with", "value": "SKU-", "value_type": "string"}),
    (
        r"Email must match /^[a-z]+@example\.com$/.",
        {"field": "email", "operator": "matches", "value": r"^[a-z]+@example\.com$", "value_type": "string"},
    ),
    (
        "End date must be after 2025-12-31.",
        {"field": "end_date", "operator": "after", "value": "2025-12-31", "value_type": "date"},
    ),
    (
        "Review date must be older than 30 days.",
        {"field": "review_date", "operator": "older_than", "value": 30, "value_type": "number"},
    ),
    (
        "`vendor.bank.iban` must be present.",
        {"field": "vendor.bank.iban", "operator": "exists", "value": None, "value_type": ""},
    ),
]


@pytest.mark.parametrize(("sentence", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_sentence_of_the_grammar_becomes_its_rule(sentence, expected):
    rule, reason = parse_sentence(sentence)
    assert reason == "" and rule == expected


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Invoices should be filed promptly.", "not a requirement"),
        ("Amount must be reasonable-ish and fair.", "no pattern"),
        ("The moon must sing at dawn or dusk loudly.", "no pattern"),
        ("Total amount due must be at most lots.", "no pattern"),
        ("Region must be one of.", "no pattern"),
        ("`a..b` must be present.", "understood, but"),
        ("Email must match /(a+)+/.", "nested quantifiers"),
        ("Amount must somehow relate to 5.", "no pattern"),
    ],
)
def test_sentences_it_cannot_parse_come_with_a_reason(sentence, reason):
    rule, why = parse_sentence(sentence)
    assert rule is None and reason in why


def test_sentences_keep_their_positions_and_bullets_are_not_part_of_them():
    text = "Intro line.\n- Amount must be at most 5.\n2) Approver must not be empty. Extra words here.\n"
    found = sentences(text)
    assert [s for s, _, _ in found] == [
        "Intro line.",
        "Amount must be at most 5.",
        "Approver must not be empty.",
        "Extra words here.",
    ]
    for sentence, start, end in found:
        assert text[start:end] == sentence
    assert [e.rule is not None for e in extract(text)] == [False, True, True, False]


def test_extracted_rules_start_disabled_keep_their_sentence_and_are_not_extracted_twice(db):
    text = "Amount must be at most 10000.\nApprover must not be empty.\nBe nice."
    policy = services.policy_create(name="AP", text=text)
    result = services.rules_extract(policy_id=policy.pk)
    assert len(result["created"]) == 2 and [u["sentence"] for u in result["unparsed"]] == ["Be nice."]
    rules = list(Rule.objects.filter(policy=policy).order_by("id"))
    assert [r.enabled for r in rules] == [False, False]
    assert rules[0].source_sentence == "Amount must be at most 10000."
    assert text[rules[1].source_start : rules[1].source_end] == "Approver must not be empty."
    again = services.rules_extract(policy_id=policy.pk)
    assert again["created"] == [] and len(again["already_extracted"]) == 2
    assert Rule.objects.filter(policy=policy).count() == 2
