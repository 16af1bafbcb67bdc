"""Stored error text: phone numbers and e-mail addresses masked, platform ids and dates left readable."""

from __future__ import annotations

import pytest

from poas.domain.error_text import mask_personal
from poas.domain.profit import MissingCostError, ProfitError
from poas.services.intake import describe_error


@pytest.mark.parametrize(
    "text",
    [
        "order 5765418819799: no unit cost for 44519034716375, 44519034749143 at the order time",
        "order 450789469: refund 509562969 names unknown line 866550311766439020",
        "gid://shopify/Order/5765418819799 was not found",
        "order #1001 (gid://shopify/LineItem/13790427480279) was edited",
        'order_id=5765418819799 "id": 450789469 at /admin/api/2025-10/orders/450789469.json',
        "cost row 44519034716375: unit_cost -1 is negative",
        "Order 450789469 updated 2026-11-20T13:03:12Z; orders 1001, 1002 waiting",
        "inbox 12345678 and event 87654321 and variant_id: 44519034716375",
    ],
)
def test_platform_ids_and_dates_stay_readable(text: str) -> None:
    assert mask_personal(text) == text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call +47 912 34 567 today", "call <number> today"),
        ("phone 91234567", "phone <number>"),
        ("tlf 912-34-567 or +4791234567", "tlf <number> or <number>"),
        ("(+47) 912 34 567", "(+47) <number>"),
        # a phone number does not pass as an id because it follows an id word
        ("order 912 34 567", "order <number>"),
        ("order +47 91234567", "order <number>"),
        # one id after a singular word; the next number is free text again
        ("order 1001, 91234567", "order 1001, <number>"),
        ("order 5765418819799 phone 91234567", "order 5765418819799 phone <number>"),
        ("kari.nordmann@example.com in order 450789469", "<email> in order 450789469"),
    ],
)
def test_phone_numbers_and_emails_are_masked(text: str, masked: str) -> None:
    assert mask_personal(text) == masked


def test_inbox_error_descriptions_keep_shopify_ids() -> None:
    missing = describe_error(MissingCostError("5765418819799", ["44519034716375", "44519034749143"]))
    assert missing.startswith(
        "MissingCostError: order 5765418819799: no unit cost for 44519034716375, 44519034749143"
    )
    assert "<number>" not in missing
    unknown = describe_error(
        ProfitError("order 5765418819799: refund 929361463 names unknown line 1071823172")
    )
    assert unknown == "ProfitError: order 5765418819799: refund 929361463 names unknown line 1071823172"
    leaked = describe_error(RuntimeError("order 5765418819799 phone +47 912 34 567 kari@example.com"))
    assert leaked == "RuntimeError: order 5765418819799 phone <number> <email>"
