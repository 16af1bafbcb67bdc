"""Ads-measurement consent: the order's signal, then the shop's default for its region; the newsletter
box never decides. Settings validation names the key. Limited Data Use by region."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from poas.domain.capi_events import build_purchase
from poas.domain.consent import (
    ads_consent,
    describe_source,
    find_signal,
    ldu_options,
    normalize_region,
    region_keys,
    signal_value,
)
from poas.domain.costs import CostBook, CostRow
from poas.domain.order import Attribution, Consent, Customer, Order, OrderLine
from poas.domain.pii import hash_user_data
from poas.domain.profit import ProfitPolicy, compute_profit
from poas.domain.rules import CostRules
from poas.settings import ShopConfig

PLACED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOT_SUBSCRIBED = Consent(marketing=False)  # what a typical Shopify buyer's order says


def order(consent: Consent = NOT_SUBSCRIBED, country: str | None = "NO", state: str | None = None) -> Order:
    return Order(
        shop_id="s",
        order_id="1",
        created_at=PLACED,
        currency="NOK",
        lines=(OrderLine("L1", 1, Decimal("100"), sku="A", tax=Decimal("20")),),
        shipping_country=country,
        customer=Customer(email="kari@example.no", country=country, state=state),
        attribution=Attribution(user_agent="Mozilla/5.0"),
        consent=consent,
    )


def shop(**kw: Any) -> ShopConfig:
    return ShopConfig.model_validate({"id": "s", **kw})


# (shop settings, order consent, allowed, words in the reason)
TABLE: list[tuple[dict[str, Any], Consent, bool, str]] = [
    ({}, NOT_SUBSCRIBED, True, "shop default granted for NO, no consent signal on the order"),
    ({}, Consent(), True, "shop default granted"),
    ({}, Consent(marketing=False, ads_tracking=True), True, "signal says granted"),
    ({}, Consent(marketing=True, ads_tracking=False), False, "signal says denied"),
    ({"consent_default": "denied"}, NOT_SUBSCRIBED, False, "shop default denied for NO, no consent signal"),
    ({"consent_default": "denied"}, Consent(marketing=True), False, "shop default denied"),
    ({"consent_default": "denied"}, Consent(ads_tracking=True), True, "signal says granted"),
    ({"consent_default_by_region": {"EEA": "denied"}}, NOT_SUBSCRIBED, False, "denied for NO (region EEA)"),
    (
        {"consent_default_by_region": {"NO": "granted", "EEA": "denied"}},
        NOT_SUBSCRIBED,
        True,
        "granted for NO",
    ),
    ({"consent_default_by_region": {"EEA": "denied"}}, Consent(ads_tracking=True), True, "granted"),
    # the older consent_policy values, read with their documented meaning
    ({"consent_policy": "allow_unless_denied"}, NOT_SUBSCRIBED, True, "shop default granted"),
    ({"consent_policy": "allow_unless_denied"}, Consent(ads_tracking=False), False, "says denied"),
    ({"consent_policy": "require_explicit"}, NOT_SUBSCRIBED, False, "shop default denied"),
    ({"consent_policy": "require_explicit"}, Consent(marketing=True), False, "shop default denied"),
    ({"consent_policy": "require_explicit"}, Consent(ads_tracking=True), True, "says granted"),
    ({"consent_policy": "always"}, Consent(ads_tracking=False), True, "policy always"),
]


@pytest.mark.parametrize(("settings", "consent", "allowed", "reason"), TABLE)
def test_ads_consent_decision(settings: dict[str, Any], consent: Consent, allowed: bool, reason: str) -> None:
    verdict = ads_consent(shop(**settings), order(consent))
    assert verdict.allowed is allowed
    assert reason in verdict.reason
    assert verdict.signal is consent.ads_tracking


@pytest.mark.parametrize("marketing", [True, False, None])
def test_email_marketing_never_decides(marketing: bool | None) -> None:
    for settings in ({}, {"consent_default": "denied"}, {"consent_default_by_region": {"NO": "denied"}}):
        s = shop(**settings)
        base = ads_consent(s, order(Consent()))
        assert ads_consent(s, order(Consent(marketing=marketing))) == base


def test_region_rules_most_specific_first() -> None:
    s = shop(consent_default="denied", consent_default_by_region={"US": "granted", "US-CA": "denied"})
    assert ads_consent(s, order(Consent(), "US", "TX")).allowed is True
    ca = ads_consent(s, order(Consent(), "US", "California"))  # a province name is read too
    assert ca.allowed is False and "for US (region US-CA)" in ca.reason
    assert ads_consent(s, order(Consent(), "DE")).allowed is False  # the shop default
    none = ads_consent(s, order(Consent(), None))
    assert none.allowed is False and "the order has no country" in none.reason
    assert region_keys("SE", None) == ["SE", "EU", "EEA"]
    assert region_keys("NO", None) == ["NO", "EEA"]


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("granted", True),
        ("DENIED", False),
        (" yes ", True),
        ("no", False),
        ("1", True),
        ("0", False),
        (True, True),
        (0, False),
        ("opt_out", False),
        ("maybe", None),
        ("", None),
        (None, None),
        (7, None),
    ],
)
def test_signal_values(raw: object, said: bool | None) -> None:
    assert signal_value(raw) is said


def test_find_signal_takes_the_first_readable_key() -> None:
    keys = ["_consent_ads", "my_banner"]
    assert find_signal({"My_Banner": "denied"}, keys) is False
    assert find_signal({"_consent_ads": "garbage", "my_banner": "yes"}, keys) is True
    assert find_signal({"accepts_marketing": "true"}, keys) is None


@pytest.mark.parametrize(
    ("key", "norm"), [("eea", "EEA"), ("no", "NO"), ("US-ca", "US-CA"), ("XX", None), ("NO-03", None)]
)
def test_region_names(key: str, norm: str | None) -> None:
    assert normalize_region(key) == norm


@pytest.mark.parametrize(
    ("settings", "key", "message"),
    [
        ({"consent_default": "maybe"}, "consent_default", "'granted' or 'denied'"),
        ({"consent_default_by_region": {"Narnia": "denied"}}, "consent_default_by_region", "unknown region"),
        (
            {"consent_default_by_region": {"NO": "perhaps"}},
            "consent_default_by_region",
            "'granted' or 'denied'",
        ),
        ({"consent_attribute_keys": ["ok", " "]}, "consent_attribute_keys", "is not a key"),
        ({"consent_meta_keys": ["x" * 101]}, "consent_meta_keys", "is not a key"),
        ({"consent_policy": "sometimes"}, "consent_policy", "require_explicit"),
        ({"consent_policy": "require_explicit", "consent_default": "granted"}, "consent_default", "disagree"),
        ({"consent_policy": "always", "consent_default": "denied"}, "consent_policy", "disagree"),
        ({"events": {"ldu_regions": ["NO"]}}, "ldu_regions", "US states only"),
    ],
)
def test_bad_consent_settings_name_the_key(settings: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        shop(**settings)
    text = str(raised.value)
    assert key in text and message in text


def test_defaults_and_normalized_settings() -> None:
    s = shop()
    assert s.consent_default is None and s.consent_policy is None
    assert "_consent_ads" in s.consent_attribute_keys and "_consent_ads" in s.consent_meta_keys
    s = shop(
        consent_default_by_region={"eea": "denied", "us-ca": "granted"}, events={"ldu_regions": ["us-co"]}
    )
    assert s.consent_default_by_region == {"EEA": "denied", "US-CA": "granted"}
    assert s.events.ldu_regions == ["US-CO"]
    # an older config that agrees with the new key is fine
    assert shop(consent_policy="require_explicit", consent_default="denied").consent_default == "denied"


def test_describe_source_names_the_signal_and_the_defaults() -> None:
    text = describe_source(shop(platform="shopify", consent_default_by_region={"EEA": "denied"}))
    assert "note/cart attribute _consent_ads" in text and "else default granted (EEA denied)" in text
    assert "order meta _consent_ads" in describe_source(shop(platform="woocommerce"))
    assert "consent.ads_tracking" in describe_source(shop(platform="api", consent_policy="require_explicit"))
    assert "default denied" in describe_source(shop(platform="api", consent_policy="require_explicit"))
    assert "always" in describe_source(shop(consent_policy="always"))


def _purchase(s: ShopConfig, o: Order) -> dict[str, Any]:
    costs = CostBook([CostRow.of("A", "10", "NOK", datetime(2025, 1, 1, tzinfo=UTC))])
    profit = compute_profit(o, costs=costs, rules=CostRules(currency="NOK"), policy=ProfitPolicy())
    user_data = hash_user_data(o.customer, o.attribution, "NO", event_time=o.created_at).user_data
    return build_purchase(o, user_data, profit, s, PLACED)


def test_limited_data_use_by_region() -> None:
    s = shop(events={"ldu_regions": ["US-CA", "US-CO"]})
    ca = _purchase(s, order(country="US", state="CA"))
    assert ca["data_processing_options"] == ["LDU"]
    assert (ca["data_processing_options_country"], ca["data_processing_options_state"]) == (1, 1000)
    co = _purchase(s, order(country="US", state="CO"))
    assert (co["data_processing_options_country"], co["data_processing_options_state"]) == (1, 0)
    tx = _purchase(s, order(country="US", state="TX"))
    assert tx["data_processing_options"] == [] and "data_processing_options_country" not in tx
    assert _purchase(s, order())["data_processing_options"] == []
    assert ldu_options(shop(events={"ldu_regions": ["US"]}), order(country="US", state="TX")) == (1, 0)
    # the shop-wide switch still applies to every order with its own codes
    everywhere = shop(events={"ldu": True, "ldu_country": 0, "ldu_state": 0})
    assert ldu_options(everywhere, replace(order(), shipping_country="NO")) == (0, 0)
