"""Cost rules: TOML loading with errors naming the key, matching, and a lossless dump."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from poas.domain.rules import HandlingPer, RulesError, dump_rules_toml, load_rules_toml

D = Decimal
AT = datetime(2025, 6, 1, tzinfo=UTC)

FULL = """
currency = "NOK"

[[payment_fees]]
id = "klarna"
gateway = "Klarna"
percent = 2.99
fixed = 3
valid_from = 2025-01-01T00:00:00Z

[[payment_fees]]
id = "klarna-old"
gateway = "klarna"
percent = 3.29
fixed = "3.00"
valid_from = "2024-01-01T00:00:00+01:00"

[[payment_fees]]
id = "stripe-eur"
gateway = "stripe"
percent = 1.5
fixed = 0.25
currency = "EUR"
valid_to = 2025-03-01T00:00:00Z

[[payment_fees]]
gateway = "*"
percent = 2.4
fixed = 2

[zones]
domestic = ["no"]
nordic = ["SE", "DK", "FI"]

[[shipping]]
id = "posten-any"
method = "posten"
cost = 82

[[shipping]]
id = "posten-heavy"
method = "posten"
min_grams = 7000
cost = 98

[[shipping]]
id = "nordic"
zone = "nordic"
cost = 150

[[shipping]]
id = "fallback"
cost = 90

[[handling]]
id = "box"
per = "order"
cost = 12.5

[[handling]]
id = "pick"
per = "unit"
cost = 3
valid_from = 2025-07-01T00:00:00Z

[returns]
rate = 0.08
handling_cost = 40
restock_share = 0.95

[[returns.rules]]
id = "shirt"
sku = "SHIRT-1"
rate = 0.4

[[returns.rules]]
id = "fashion"
category = "fashion"
rate = 0.3
handling_cost = 60
restock_share = 0.8
"""


def test_payment_fee_rule_by_gateway_date_and_default() -> None:
    rules = load_rules_toml(FULL)
    rule = rules.payment_fee_rule("KLARNA ", AT)
    assert rule is not None and rule.id == "klarna" and rule.percent == D("2.99") and rule.fixed == D(3)
    rule = rules.payment_fee_rule("klarna", datetime(2024, 6, 1, tzinfo=UTC))
    assert rule is not None and rule.id == "klarna-old"
    # stripe's rule ended on 1 March: the default rule takes over
    rule = rules.payment_fee_rule("stripe", datetime(2025, 2, 1, tzinfo=UTC))
    assert rule is not None and rule.id == "stripe-eur" and rule.currency == "EUR"
    rule = rules.payment_fee_rule("stripe", AT)
    assert rule is not None and rule.id == "payment_fees[3]" and rule.gateway is None
    rule = rules.payment_fee_rule(None, AT)
    assert rule is not None and rule.id == "payment_fees[3]"


def test_shipping_rule_most_specific_wins() -> None:
    rules = load_rules_toml(FULL)

    def pick(method: str | None, country: str | None, grams: int) -> str | None:
        rule = rules.shipping_rule(method, country, grams, AT)
        return None if rule is None else rule.id

    assert pick("Posten", "NO", 2000) == "posten-any"
    assert pick("posten", "NO", 7000) == "posten-heavy"  # method + band beats method alone
    assert pick("bring", "SE", 100) == "nordic"
    assert pick("bring", "NO", 100) == "fallback"
    assert pick(None, None, 0) == "fallback"
    assert rules.zone_of("no") == "domestic"


def test_handling_rules_active_at_the_time() -> None:
    rules = load_rules_toml(FULL)
    assert [r.id for r in rules.handling_rules(AT)] == ["box"]
    later = rules.handling_rules(datetime(2025, 8, 1, tzinfo=UTC))
    assert [(r.id, r.per) for r in later] == [("box", HandlingPer.ORDER), ("pick", HandlingPer.UNIT)]


def test_return_rule_sku_then_category_then_default() -> None:
    rules = load_rules_toml(FULL)
    shirt = rules.return_rule("SHIRT-1", "fashion")
    assert shirt is not None and shirt.id == "shirt" and shirt.rate == D("0.4")
    assert shirt.handling_cost == D(40) and shirt.restock_share == D("0.95")  # the defaults
    dress = rules.return_rule("DRESS", "fashion")
    assert dress is not None and dress.id == "fashion" and dress.restock_share == D("0.8")
    mug = rules.return_rule("MUG", "home")
    assert mug is not None and mug.id == "returns.default" and mug.rate == D("0.08")


def test_numbers_are_exact_decimals() -> None:
    rules = load_rules_toml(FULL)
    assert rules.handling[0].cost == D("12.5")
    assert isinstance(rules.payment_fees[0].percent, Decimal)


def test_dump_then_load_is_identity() -> None:
    rules = load_rules_toml(FULL)
    text = dump_rules_toml(rules)
    again = load_rules_toml(text)
    assert again == rules
    assert dump_rules_toml(again) == text


def test_empty_document_is_no_rules() -> None:
    rules = load_rules_toml("")
    assert rules.payment_fee_rule("vipps", AT) is None
    assert rules.shipping_rule("x", "NO", 0, AT) is None
    assert rules.return_rule("x", None) is None
    assert load_rules_toml(dump_rules_toml(rules)) == rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[payment_fees]]\npercent = 'abc'", r"payment_fees\[0\]\.percent: 'abc' is not a number"),
        ("[[payment_fees]]\npercent = 120", r"payment_fees\[0\]\.percent: 120 is above 100"),
        ("[[payment_fees]]\nfixed = -1", r"payment_fees\[0\]\.fixed: -1 is below 0"),
        ("[[payment_fees]]\ncurrency = 'NOPE'", r"payment_fees\[0\]\.currency: unknown currency"),
        ("[[payment_fees]]\nvalid_from = 2025-01-01", r"payment_fees\[0\]\.valid_from: .*needs a time"),
        ("[[payment_fees]]\nvalid_from = 2025-01-01T00:00:00", r"valid_from: .* has no timezone"),
        ("[[payment_fees]]\nprecent = 2", r"payment_fees\[0\]: unknown key\(s\) precent"),
        ("[[shipping]]\ncost = 5\nzone = 'moon'", r"shipping\[0\]\.zone: 'moon' is not defined"),
        ("[[shipping]]\ncost = 5\nmin_grams = 10\nmax_grams = 5", r"shipping\[0\]\.max_grams"),
        (
            "[[shipping]]\nid = 'a'\ncost = 1\n[[handling]]\nid = 'a'\ncost = 1",
            r"handling\[0\]\.id: 'a' is used",
        ),
        ("[[handling]]\nper = 'parcel'\ncost = 1", r"handling\[0\]\.per: 'parcel'"),
        ("[returns]\nrate = 1.5", r"returns\.rate: 1\.5 is above 1"),
        ("[[returns.rules]]\nrate = 0.1", r"returns\.rules\[0\]: give exactly one of sku or category"),
        ("[zones]\nx = ['NOR']", r"zones\.x: 'NOR' is not a two-letter"),
        ("[zones]\nx = ['NO']\ny = ['no']", r"zones\.y: NO is already in zone 'x'"),
        ("surprise = 1", r"rules: unknown key\(s\) surprise"),
        ("currency = ", r"rules TOML"),
    ],
)
def test_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(RulesError, match=message):
        load_rules_toml(text)
