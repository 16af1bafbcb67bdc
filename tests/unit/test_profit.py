"""compute_profit on hand-computed orders: a Norwegian VAT-inclusive order, a US tax-exclusive one."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from poas.domain.costs import CostBook, CostRow
from poas.domain.fx import FxError, FxRate, FxTable
from poas.domain.money import Money
from poas.domain.order import Order, OrderLine, Refund, RefundLine, RestockType, ShippingLine
from poas.domain.profit import MissingCostError, ProfitError, ProfitPolicy, compute_profit
from poas.domain.rules import load_rules_toml

D = Decimal


def nok(x: str) -> Money:
    return Money(D(x), "NOK")


def usd(x: str) -> Money:
    return Money(D(x), "USD")


NO_RULES = load_rules_toml(
    """
currency = "NOK"

[[payment_fees]]
id = "vipps-2024"
gateway = "vipps"
percent = 2.5
valid_from = 2024-01-01T00:00:00Z

[[payment_fees]]
id = "vipps-partner-2025"
gateway = "vipps"
percent = 1.75
fixed = 1.00
valid_from = 2025-01-01T00:00:00Z

[[payment_fees]]
id = "card-default"
percent = 2.9
fixed = 2

[zones]
domestic = ["NO"]
nordic = ["SE", "DK", "FI"]

[[shipping]]
id = "any-parcel"
cost = 95

[[shipping]]
id = "bring-domestic-0-5kg"
method = "bring-servicepakke"
zone = "domestic"
min_grams = 0
max_grams = 5000
cost = 72.00

[[handling]]
id = "packaging"
per = "order"
cost = 15

[[handling]]
id = "pick"
per = "unit"
cost = 4

[returns]
rate = 0.05
handling_cost = 45
restock_share = 0.9

[[returns.rules]]
id = "fashion-returns"
category = "fashion"
rate = 0.25
handling_cost = 60
restock_share = 0.8

[[returns.rules]]
id = "food-no-returns"
category = "food"
rate = 0
"""
)

NO_COSTS = CostBook(
    [
        CostRow.of("V-SWEATER", "400.00", "NOK", datetime(2025, 1, 1, tzinfo=UTC), source="csv"),
        # the supplier raised the price last month: orders from 20 February cost 460
        CostRow.of("V-SWEATER", "460.00", "NOK", datetime(2025, 2, 20, tzinfo=UTC), source="csv"),
        CostRow.of("V-SWEATER", "500.00", "NOK", datetime(2025, 4, 1, tzinfo=UTC), source="csv"),
        CostRow.of("COFFEE-1", "55.00", "NOK", datetime(2024, 6, 1, tzinfo=UTC), row_id="coffee-2024"),
        CostRow.of("HAT-1", "120.00", "NOK", datetime(2024, 6, 1, tzinfo=UTC), row_id="hat-2024"),
    ]
)

NO_POLICY = ProfitPolicy(missing_cost="block", include_shipping_in_revenue=True)

PLACED = datetime(2025, 3, 15, 10, 0, tzinfo=UTC)


def norwegian_order(placed: datetime = PLACED, *, refunded: bool = True) -> Order:
    refund = Refund(
        refund_id="r1",
        processed_at=datetime(2025, 3, 25, 9, 0, tzinfo=UTC),
        lines=(RefundLine("L3", 1, RestockType.RETURN, amount=D("399.00"), tax=D("79.80")),),
    )
    return Order(
        shop_id="no-shop",
        order_id="1001",
        created_at=placed,
        currency="NOK",
        prices_include_vat=True,
        gateway="Vipps",
        shipping_country="NO",
        lines=(
            OrderLine(
                "L1",
                2,
                D("1250.00"),
                variant_id="V-SWEATER",
                sku="SWEATER-M",
                category="fashion",
                discount=D("250.00"),
                tax=D("450.00"),
                tax_rate=D("0.25"),
                grams=600,
            ),
            OrderLine(
                "L2",
                3,
                D("149.90"),
                sku="COFFEE-1",
                category="food",
                tax=D("58.66"),
                tax_rate=D("0.15"),
                grams=250,
            ),
            OrderLine(
                "L3",
                1,
                D("399.00"),
                sku="HAT-1",
                category="accessories",
                tax=D("79.80"),
                tax_rate=D("0.25"),
                grams=150,
            ),
        ),
        shipping_lines=(
            ShippingLine(D("99.00"), method="bring-servicepakke", title="Bring", tax=D("19.80")),
        ),
        refunds=(refund,) if refunded else (),
    )


def test_norwegian_order_to_the_ore() -> None:
    res = compute_profit(norwegian_order(), costs=NO_COSTS, rules=NO_RULES, policy=NO_POLICY)
    # Lines (prices include 25 % / 15 % MVA; the platform's tax amounts are used):
    #   L1 sweater 2 × 1250.00 − 250.00 discount = 2250.00 gross, VAT 450.00 → 1800.00
    #   L2 coffee  3 × 149.90                    =  449.70 gross, VAT  58.66 →  391.04
    #   L3 hat     1 × 399.00                    =  399.00 gross, VAT  79.80 →  319.20
    #   shipping 99.00 incl. 19.80 VAT           →                              79.20
    lines = {ln.line_id: ln for ln in res.lines}
    assert lines["L1"].revenue_ex_vat == nok("1800.00")
    assert lines["L2"].revenue_ex_vat == nok("391.04")
    assert lines["L3"].revenue_ex_vat == nok("319.20")
    assert res.shipping_revenue == nok("79.20")
    assert res.revenue_ex_vat == nok("2589.44")  # 1800.00 + 391.04 + 319.20 + 79.20
    assert res.vat == nok("608.26")  # 450.00 + 58.66 + 79.80 + 19.80
    assert res.total_paid == nok("3197.70")  # 2250.00 + 449.70 + 399.00 + 99.00
    # COGS at 15 March: the sweater's 20 February row (460), not January's 400 nor April's 500
    #   2 × 460.00 + 3 × 55.00 + 1 × 120.00 = 920.00 + 165.00 + 120.00
    assert lines["L1"].cogs == nok("920.00")
    assert lines["L1"].cost["row"] == "csv:V-SWEATER@2025-02-20T00:00:00+00:00"
    assert lines["L2"].cost["row"] == "coffee-2024"
    assert res.cogs == nok("1205.00")
    # shipping: domestic Bring rule for 2 × 600 + 3 × 250 + 150 = 2100 g beats the generic 95
    assert res.shipping_cost == nok("72.00")
    # Vipps 2025 partner rate: 3197.70 × 1.75 % + 1.00 = 55.95975 + 1.00 = 56.95975 → 56.96
    assert res.payment_fee == nok("56.96")
    # handling: 15.00 per order + 4.00 × 6 units
    assert res.handling_cost == nok("39.00")
    # 2589.44 − 1205.00 − 72.00 − 56.96 − 39.00
    assert res.gross_profit == nok("1216.48")
    # expected returns:
    #   L1 fashion: 0.25 × (1800.00 − 920.00 × 0.8 + 60) = 0.25 × 1124.00 = 281.00
    #   L2 food:    0
    #   L3 default: 0.05 × (319.20 − 120.00 × 0.9 + 45) = 0.05 × 256.20 = 12.81
    assert lines["L1"].expected_return_cost == nok("281.00")
    assert lines["L2"].expected_return_cost == nok("0.00")
    assert lines["L3"].expected_return_cost == nok("12.81")
    assert res.expected_return_cost == nok("293.81")
    assert res.expected_profit == nok("922.67")  # 1216.48 − 293.81
    # the hat came back and was restocked: 319.20 revenue out, 120.00 cost back, 45.00 handling
    assert res.refunded_revenue_ex_vat == nok("319.20")
    assert res.recovered_cogs == nok("120.00")
    assert res.return_handling_cost == nok("45.00")
    assert res.realized_profit == nok("972.28")  # 1216.48 − 319.20 + 120.00 − 45.00
    assert res.sendable and res.reason is None


def test_norwegian_breakdown_names_rules_and_rows() -> None:
    res = compute_profit(norwegian_order(), costs=NO_COSTS, rules=NO_RULES, policy=NO_POLICY)
    doc = json.loads(json.dumps(res.to_dict()))  # JSON-safe
    comp = doc["components"]
    assert comp["payment_fee"]["rule"] == "vipps-partner-2025"
    assert comp["payment_fee"]["amount"] == "56.96"
    assert comp["shipping_cost"]["rule"] == "bring-domestic-0-5kg"
    assert [h["rule"] for h in comp["handling_cost"]["rules"]] == ["packaging", "pick"]
    assert comp["realized_profit"]["amount"] == "972.28"
    assert doc["vat_treatment"]["prices_include_vat"] is True
    line1 = doc["lines"][0]
    assert line1["cost"]["source"] == "cost book" and line1["cost"]["unit_cost"] == "460.00"
    assert line1["return_rule"] == "fashion-returns"
    assert doc["lines"][2]["return_rule"] == "returns.default"
    assert comp["refunded_revenue_ex_vat"]["refunds"][0]["refund_id"] == "r1"


def test_an_order_before_the_first_cost_row_is_refused_under_block() -> None:
    dec = datetime(2024, 12, 20, 12, 0, tzinfo=UTC)  # the sweater's first cost row is 2025-01-01
    with pytest.raises(MissingCostError) as err:
        compute_profit(norwegian_order(dec, refunded=False), costs=NO_COSTS, rules=NO_RULES, policy=NO_POLICY)
    assert err.value.keys == ["V-SWEATER"]
    assert "1001" in str(err.value)


def test_fee_rule_in_force_at_the_order_time() -> None:
    dec = datetime(2024, 12, 20, 12, 0, tzinfo=UTC)
    policy = ProfitPolicy(missing_cost="fallback_margin", category_margins={"fashion": D("0.5")})
    res = compute_profit(norwegian_order(dec, refunded=False), costs=NO_COSTS, rules=NO_RULES, policy=policy)
    # the 2024 Vipps rule: 3197.70 × 2.5 % = 79.9425 → 79.94
    assert res.payment_fee == nok("79.94")
    assert res.sources["payment_fee"]["rule"] == "vipps-2024"
    # the sweater has no cost yet: 1800.00 × (1 − 0.5), flagged
    lines = {ln.line_id: ln for ln in res.lines}
    assert lines["L1"].cogs == nok("900.00")
    assert lines["L1"].cost == {"source": "fallback", "fallback": "category margin fashion", "margin": "0.5"}
    assert res.fallbacks and "V-SWEATER" in res.fallbacks[0]
    assert res.sendable


def test_cost_row_in_force_before_the_change() -> None:
    feb = datetime(2025, 2, 10, 12, 0, tzinfo=UTC)
    res = compute_profit(
        norwegian_order(feb, refunded=False), costs=NO_COSTS, rules=NO_RULES, policy=NO_POLICY
    )
    lines = {ln.line_id: ln for ln in res.lines}
    assert lines["L1"].cogs == nok("800.00")  # 2 × 400.00, the January row
    assert res.cogs == nok("1085.00")  # 800.00 + 165.00 + 120.00
    assert res.realized_profit == res.gross_profit  # no refunds
    assert res.gross_profit == nok("1336.48")  # 1216.48 + 120.00 cheaper sweaters


US_RULES = load_rules_toml(
    """
currency = "USD"

[[payment_fees]]
id = "stripe-us"
gateway = "stripe"
percent = 2.9
fixed = 0.30

[[shipping]]
id = "usps-ground"
cost = 6.50

[returns]
rate = 0.10
handling_cost = 5
restock_share = 1
"""
)
US_COSTS = CostBook([CostRow.of("MUG-1", "18.50", "USD", datetime(2024, 1, 1, tzinfo=UTC))])


def us_order(**changes: object) -> Order:
    order = Order(
        shop_id="us-shop",
        order_id="US-1",
        created_at=datetime(2025, 5, 2, 18, 30, tzinfo=UTC),
        currency="USD",
        prices_include_vat=False,
        gateway="stripe",
        shipping_country="US",
        lines=(OrderLine("1", 2, D("49.99"), sku="MUG-1", discount=D("10.00"), tax=D("7.42"), grams=400),),
        shipping_lines=(ShippingLine(D("8.00"), method="ground"),),
    )
    return replace(order, **changes)  # type: ignore[arg-type]


def test_us_order_prices_exclude_tax() -> None:
    res = compute_profit(
        us_order(), costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy(missing_cost="block")
    )
    # 2 × 49.99 − 10.00 = 89.98 (sales tax 7.42 sits on top, not revenue) + 8.00 shipping
    assert res.revenue_ex_vat == usd("97.98")
    assert res.vat == usd("7.42")
    assert res.total_paid == usd("105.40")  # 89.98 + 7.42 + 8.00
    assert res.cogs == usd("37.00")  # 2 × 18.50
    assert res.shipping_cost == usd("6.50")
    assert res.payment_fee == usd("3.36")  # 105.40 × 2.9 % + 0.30 = 3.3566
    assert res.handling_cost == usd("0.00")
    assert res.gross_profit == usd("51.12")  # 97.98 − 37.00 − 6.50 − 3.36
    # 0.10 × (89.98 − 37.00 × 1 + 5.00) = 5.798 → 5.80
    assert res.expected_return_cost == usd("5.80")
    assert res.expected_profit == usd("45.32")
    assert res.to_dict()["vat_treatment"]["prices_include_vat"] is False


def test_actual_fee_overrides_the_rule() -> None:
    res = compute_profit(
        us_order(actual_payment_fee=D("3.10")), costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy()
    )
    assert res.payment_fee == usd("3.10")
    assert res.sources["payment_fee"]["rule"] is None
    assert res.gross_profit == usd("51.38")


def test_shipping_left_out_of_revenue_when_the_setting_says_so() -> None:
    res = compute_profit(
        us_order(), costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy(include_shipping_in_revenue=False)
    )
    assert res.revenue_ex_vat == usd("89.98")
    assert res.shipping_revenue == usd("8.00")


def test_gift_cards_are_not_revenue_but_are_paid() -> None:
    card = OrderLine("gc", 1, D("50.00"), sku="GIFT", gift_card=True)
    order = us_order(lines=(*us_order().lines, card))
    res = compute_profit(order, costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy(missing_cost="block"))
    assert res.revenue_ex_vat == usd("97.98")  # unchanged, and no missing cost for the card
    assert res.total_paid == usd("155.40")
    assert res.payment_fee == usd("4.81")  # 155.40 × 2.9 % + 0.30 = 4.8066


def test_missing_cost_policies() -> None:
    unknown = OrderLine("1", 1, D("100.00"), sku="NEW-1", category="home", tax=D("20.00"))
    order = us_order(lines=(unknown,), prices_include_vat=True, shipping_lines=())
    # fallback: the category margin, else the shop default; never zero, never the price
    res = compute_profit(
        order,
        costs=US_COSTS,
        rules=US_RULES,
        policy=ProfitPolicy(default_margin=D("0.30"), category_margins={"fashion": D("0.6")}),
    )
    assert res.revenue_ex_vat == usd("80.00")
    assert res.cogs == usd("56.00")  # 80.00 × (1 − 0.30)
    assert res.lines[0].cost["fallback"] == "shop default margin"
    assert res.sendable
    # fallback without any margin configured: not sendable, with the reason
    res = compute_profit(order, costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy())
    assert not res.sendable and res.reason is not None and "NEW-1" in res.reason
    assert res.lines[0].cost_missing
    # skip: computed but not sendable
    res = compute_profit(order, costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy(missing_cost="skip"))
    assert not res.sendable and "skip" in (res.reason or "")
    assert res.to_dict()["lines"][0]["cost"]["source"] == "missing"
    # block: refused
    with pytest.raises(MissingCostError):
        compute_profit(order, costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy(missing_cost="block"))


def test_platform_cost_on_the_line_is_used_when_the_book_has_none() -> None:
    line = OrderLine("1", 2, D("30.00"), sku="WOO-9", unit_cost=D("11.25"))
    res = compute_profit(
        us_order(lines=(line,)), costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy(missing_cost="block")
    )
    assert res.cogs == usd("22.50")
    assert res.lines[0].cost["source"] == "order line (platform cost)"


def test_vat_from_the_rate_when_the_order_gives_no_amount() -> None:
    line = OrderLine("1", 1, D("125.00"), sku="MUG-1", tax_rate=D("0.25"))
    order = us_order(lines=(line,), prices_include_vat=True, shipping_lines=())
    res = compute_profit(order, costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy())
    assert res.revenue_ex_vat == usd("100.00") and res.vat == usd("25.00")
    assert res.lines[0].vat_source == "line rate 0.25"
    # no tax and no rate: the shop's default rate when configured, flagged
    bare = replace(order, lines=(replace(line, tax_rate=None),))
    res = compute_profit(
        bare, costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy(default_vat_rate=D("0.25"))
    )
    assert res.revenue_ex_vat == usd("100.00") and res.lines[0].vat_source == "shop default rate 0.25"
    res = compute_profit(bare, costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy())
    assert res.revenue_ex_vat == usd("125.00") and res.notes


def test_cost_in_another_currency_is_converted_with_the_rate_named() -> None:
    costs = CostBook([CostRow.of("MUG-1", "10.00", "EUR", datetime(2024, 1, 1, tzinfo=UTC))])
    fx = FxTable([FxRate.of("EUR", "USD", "1.0850", date(2025, 5, 2), source="bank")], use_ecb=False)
    res = compute_profit(us_order(), costs=costs, rules=US_RULES, policy=ProfitPolicy(), fx=fx)
    assert res.cogs == usd("21.70")  # 2 × 10.00 EUR × 1.0850
    assert res.to_dict()["fx"] == [
        {"from": "EUR", "to": "USD", "rate": "1.0850", "source": "bank", "rate_date": "2025-05-02"}
    ]
    with pytest.raises(FxError, match="EUR"):
        compute_profit(us_order(), costs=costs, rules=US_RULES, policy=ProfitPolicy())
    stale = FxTable([FxRate.of("EUR", "USD", "1.08", date(2025, 3, 1))], use_ecb=False)
    with pytest.raises(FxError, match=r"no EUR→USD exchange rate on 2025-05-02"):
        compute_profit(us_order(), costs=costs, rules=US_RULES, policy=ProfitPolicy(), fx=stale)


def test_order_in_presentment_currency_is_priced_in_the_shop_currency() -> None:
    fx = FxTable([FxRate.of("USD", "NOK", "10.5", date(2025, 5, 2))], use_ecb=False)
    costs = CostBook([CostRow.of("MUG-1", "190.00", "NOK", datetime(2024, 1, 1, tzinfo=UTC))])
    res = compute_profit(
        us_order(), costs=costs, rules=US_RULES, policy=ProfitPolicy(), fx=fx, shop_currency="NOK"
    )
    assert res.currency == "NOK" and res.order_currency == "USD"
    assert res.revenue_ex_vat == nok("1028.79")  # 89.98 × 10.5 = 944.79 + 8.00 × 10.5 = 84.00
    assert res.cogs == nok("380.00")
    assert res.shipping_cost == nok("68.25")  # the USD rule: 6.50 × 10.5


def test_refund_naming_an_unknown_line_is_a_clear_error() -> None:
    bad = Refund("r9", datetime(2025, 5, 3, tzinfo=UTC), lines=(RefundLine("nope", 1),))
    with pytest.raises(ProfitError, match=r"r9.*nope"):
        compute_profit(us_order(refunds=(bad,)), costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy())


def test_restock_types_decide_cost_recovery_and_return_handling() -> None:
    def realized(kind: RestockType) -> tuple[Money, Money, Money]:
        refund = Refund("r", datetime(2025, 5, 9, tzinfo=UTC), lines=(RefundLine("1", 1, kind),))
        res = compute_profit(
            us_order(refunds=(refund,)), costs=US_COSTS, rules=US_RULES, policy=ProfitPolicy()
        )
        assert res.refunded_revenue_ex_vat == usd("44.99")  # half of 89.98
        return res.recovered_cogs, res.return_handling_cost, res.realized_profit

    assert realized(RestockType.RETURN) == (
        usd("18.50"),
        usd("5.00"),
        usd("19.63"),
    )  # 51.12 − 44.99 + 18.50 − 5
    assert realized(RestockType.LEGACY_RESTOCK) == realized(RestockType.RETURN)
    assert realized(RestockType.CANCEL) == (usd("18.50"), usd("0.00"), usd("24.63"))
    assert realized(RestockType.NO_RESTOCK) == (usd("0.00"), usd("0.00"), usd("6.13"))


def test_policy_from_shop_settings() -> None:
    from poas.settings import ShopConfig

    shop = ShopConfig(
        id="s", missing_cost="skip", default_margin=D("0.4"), category_margins={"food": D("0.2")},
        include_shipping_in_revenue=False,
    )  # fmt: skip
    policy = ProfitPolicy.from_shop(shop)
    assert policy.missing_cost == "skip"
    assert policy.default_margin == D("0.4") and policy.category_margins == {"food": D("0.2")}
    assert policy.include_shipping_in_revenue is False
    assert policy.default_vat_rate == D("0.25")
    with pytest.raises(ProfitError, match="missing_cost"):
        ProfitPolicy(missing_cost="ignore")  # type: ignore[arg-type]


def test_learned_return_rates_sit_between_configured_rules_and_the_default() -> None:
    from poas.domain.returns import RateEstimate, ReturnRateModel

    model = ReturnRateModel(
        shop=RateEstimate(D("0.10"), "shop"),
        categories={"accessories": RateEstimate(D("0.20"), "category", sold=50, returned=10)},
    )
    res = compute_profit(
        norwegian_order(), costs=NO_COSTS, rules=NO_RULES, policy=NO_POLICY, return_rates=model
    )
    lines = {ln.line_id: ln for ln in res.lines}
    assert lines["L1"].return_rule == "fashion-returns"  # configured category rule wins
    assert lines["L2"].return_rule == "food-no-returns"
    # the hat: learned 0.20 instead of the configured default 0.05, with the default's handling
    #   0.20 × (319.20 − 120.00 × 0.9 + 45) = 0.20 × 256.20 = 51.24
    assert lines["L3"].return_rule == "learned:category" and lines["L3"].p_return == D("0.20")
    assert lines["L3"].expected_return_cost == nok("51.24")
    assert res.expected_return_cost == nok("332.24")  # 281.00 + 0 + 51.24


def test_cost_in_euro_through_the_bundled_ecb_history_on_a_sunday() -> None:
    costs = CostBook([CostRow.of("MUG-1", "10.00", "EUR", datetime(2024, 1, 1, tzinfo=UTC))])
    order = us_order(currency="NOK", created_at=datetime(2024, 3, 17, 12, 0, tzinfo=UTC))  # a Sunday
    res = compute_profit(order, costs=costs, rules=NO_RULES, policy=ProfitPolicy(), fx=FxTable())
    # Friday 15 March 2024 ECB reference rate: 1 EUR = 11.5205 NOK; 2 × 10.00 × 11.5205 = 230.41
    assert res.cogs == nok("230.41")
    (use,) = res.to_dict()["fx"]
    assert use["rate"] == "11.5205" and use["rate_date"] == "2024-03-15" and "ECB" in use["source"]


def test_a_line_without_a_category_takes_the_catalogues_for_the_fallback_margin() -> None:
    bare = OrderLine("1", 1, D("100.00"), variant_id="V-NEW", sku="NEW-1", tax=D("20.00"))
    order = us_order(lines=(bare,), prices_include_vat=True, shipping_lines=())
    policy = ProfitPolicy(default_margin=D("0.30"), category_margins={"home": D("0.6")})
    book = CostBook([], categories={"NEW-1": "home"})  # found by SKU when the variant id is not listed
    res = compute_profit(order, costs=book, rules=US_RULES, policy=policy)
    assert res.cogs == usd("32.00")  # 80.00 × (1 − 0.6): the category's margin, not the shop's 0.30
    assert res.lines[0].cost["fallback"] == "category margin home"
    assert res.lines[0].cost["category_from"] == "shop catalogue (poas sync)"
    own = replace(bare, category="garden")  # the line's own category wins over the catalogue's
    res = compute_profit(replace(order, lines=(own,)), costs=book, rules=US_RULES, policy=policy)
    assert res.lines[0].cost["fallback"] == "shop default margin"
    assert "category_from" not in res.lines[0].cost


def test_a_first_sync_cost_names_itself_only_for_orders_before_it_was_seen() -> None:
    seen = datetime(2025, 3, 20, tzinfo=UTC)
    row = CostRow("SWEATER-M", D("400.00"), "NOK", datetime(2024, 1, 1, tzinfo=UTC), "shopify-first-sync",
                  seen_at=seen)  # fmt: skip
    book = CostBook([row, *NO_COSTS.history("COFFEE-1"), *NO_COSTS.history("HAT-1")])
    before = compute_profit(norwegian_order(), costs=book, rules=NO_RULES, policy=NO_POLICY)
    assert [n for n in before.notes if "first saw it (400.00 NOK, shopify-first-sync)" in n]
    after = compute_profit(
        norwegian_order(datetime(2025, 3, 21, tzinfo=UTC)), costs=book, rules=NO_RULES, policy=NO_POLICY
    )
    assert not [n for n in after.notes if "first saw it" in n]
