"""The sample shop generator: deterministic, Shopify-shaped, and its campaigns tell the seed story."""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import json
import tomllib
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from poas.domain.consent import ads_consent
from poas.domain.rules import load_rules_toml
from poas.settings import load_settings
from poas.sources import sample_catalog as cat
from poas.sources.ads_manager_csv import read_ads_manager_csv
from poas.sources.sample_files import write_shop
from poas.sources.sample_shop import generate
from poas.sources.shopify import parse_order, parse_refund

TODAY = date(2026, 3, 1)
OSLO = ZoneInfo("Europe/Oslo")
D = Decimal


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shop")
    write_shop(generate(seed=11, days=60, orders_per_day=60, today=TODAY), out)
    return out


def load_orders(root: Path) -> list[dict]:
    return [json.loads(p.read_bytes()) for p in sorted((root / "shopify_orders").glob("*.json"))]


def load_refunds(root: Path) -> list[dict]:
    return [json.loads(p.read_bytes()) for p in sorted((root / "refunds").glob("*.json"))]


def test_same_seed_gives_the_same_files_and_another_seed_does_not(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_shop(generate(seed=3, days=20, orders_per_day=30, today=TODAY), a)
    write_shop(generate(seed=3, days=20, orders_per_day=30, today=TODAY), b)
    write_shop(generate(seed=4, days=20, orders_per_day=30, today=TODAY), c)
    digest_a = tree_digest(a)
    assert len(digest_a) > 500
    assert digest_a == tree_digest(b)
    assert digest_a != tree_digest(c)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        generate(days=0, today=TODAY)
    with pytest.raises(ValueError, match="orders_per_day"):
        generate(orders_per_day=0, today=TODAY)


def test_orders_fall_in_the_period_ending_yesterday_with_a_weekly_pattern(shop_dir: Path) -> None:
    days = Counter(
        datetime.fromisoformat(o["created_at"]).astimezone(OSLO).date() for o in load_orders(shop_dir)
    )
    assert min(days) == TODAY - timedelta(days=60)
    assert max(days) == TODAY - timedelta(days=1)
    by_weekday: dict[int, list[int]] = defaultdict(list)
    for day, n in days.items():
        by_weekday[day.weekday()].append(n)
    mean = {wd: sum(ns) / len(ns) for wd, ns in by_weekday.items()}
    assert mean[6] > mean[4]  # Sunday evenings sell more than Fridays


def test_payload_totals_add_up_the_way_shopify_prints_them(shop_dir: Path) -> None:
    for o in load_orders(shop_dir):
        assert o["taxes_included"] is True and o["currency"] == "NOK"
        lines = sum(
            D(li["price"]) * li["quantity"] - sum((D(a["amount"]) for a in li["discount_allocations"]), D(0))
            for li in o["line_items"]
        )
        shipping = sum((D(s["price"]) for s in o["shipping_lines"]), D(0))
        assert D(o["subtotal_price"]) == lines
        assert D(o["total_price"]) == lines + shipping
        tax = sum((D(t["price"]) for t in o["tax_lines"]), D(0))
        assert D(o["total_tax"]) == tax
        line_tax = sum(D(t["price"]) for li in o["line_items"] for t in li["tax_lines"])
        ship_tax = sum(D(t["price"]) for s in o["shipping_lines"] for t in s["tax_lines"])
        assert tax == line_tax + ship_tax
        for li in o["line_items"]:
            rate = D(str(li["tax_lines"][0]["rate"]))
            assert rate == (D("0.15") if li["product_type"] == "food" else D("0.25"))
        assert o["payment_gateway_names"][0] in {"vipps", "klarna", "stripe"}


def test_payloads_parse_as_canonical_orders_and_refunds(shop_dir: Path) -> None:
    orders = {o["id"]: o for o in load_orders(shop_dir)}
    for payload in list(orders.values())[:400]:
        order = parse_order(payload, "demo")
        assert order.prices_include_vat and order.lines
        assert all(ln.cost_key for ln in order.lines)
    refunds = load_refunds(shop_dir)
    assert refunds
    for r in refunds:
        refund = parse_refund(r)
        order = orders[r["order_id"]]
        assert order["financial_status"] == "paid"
        line_ids = {str(li["id"]) for li in order["line_items"]}
        assert {rl.line_id for rl in refund.lines} <= line_ids
        assert refund.processed_at > datetime.fromisoformat(order["created_at"])
        assert refund.processed_at.astimezone(OSLO).date() < TODAY


def test_contact_data_is_clearly_fake_and_consent_is_mixed(shop_dir: Path) -> None:
    consent: Counter[str] = Counter()
    for o in load_orders(shop_dir):
        assert o["email"].endswith("@example.no")
        assert o["phone"].startswith("+474") and len(o["phone"]) == 11
        ip = ipaddress.ip_address(o["browser_ip"])
        nets = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
        assert any(ip in ipaddress.ip_network(n) for n in nets)
        notes = {n["name"]: n["value"] for n in o["note_attributes"]}
        consent[notes.get("_consent_ads", "unknown")] += 1
        if notes.get("_consent_ads") == "denied":
            assert "_fbp" not in notes and "_fbc" not in notes
    total = sum(consent.values())
    assert consent["granted"] / total > 0.75
    assert consent["denied"] > 0 and consent["unknown"] > 0


def test_consent_reads_back_the_way_the_generator_meant_it(shop_dir: Path) -> None:
    expected = {"granted": True, "denied": False, "unknown": None}
    newsletter: Counter[bool] = Counter()
    demo_shop = load_settings(shop_dir / "poas.toml").shops[0]
    for o in load_orders(shop_dir):
        said = {n["name"]: n["value"] for n in o["note_attributes"]}.get("_consent_ads", "unknown")
        order = parse_order(o, "demo")
        assert order.consent.ads_tracking is expected[said]
        # the newsletter box is its own choice, present on every order, and never decides
        subscribed = o["customer"]["email_marketing_consent"]["state"] == "subscribed"
        assert order.consent.marketing is subscribed is o["buyer_accepts_marketing"]
        newsletter[subscribed] += 1
        assert ads_consent(demo_shop, order).allowed is (said != "denied")
    assert newsletter[False] > newsletter[True] > 0  # most buyers never subscribe


def test_meta_orders_carry_campaign_adset_and_ad_ids_that_the_spend_knows(shop_dir: Path) -> None:
    spend = json.loads((shop_dir / "spend.json").read_text())
    ads = {(r["campaign_id"], r["adset_id"], r["ad_id"]) for r in spend}
    assert len(ads) == 24  # 6 campaigns x 2 ad sets x 2 ads
    assert len(spend) == 24 * 60
    attributed = unattributed = with_fbclid = 0
    for o in load_orders(shop_dir):
        order = parse_order(o, "demo")
        a = order.attribution
        if a.utm_source == "facebook":
            attributed += 1
            assert (a.utm_campaign, a.utm_term, a.utm_content) in ads
            with_fbclid += a.fbclid is not None
        else:
            unattributed += 1
    assert attributed > unattributed > 0
    assert 0 < with_fbclid < attributed
    with (shop_dir / "spend.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(spend)
    assert sum(D(r["Amount spent (NOK)"]) for r in rows) == sum(D(r["spend"]) for r in spend)


def test_config_rules_and_costs_load_and_some_costs_change_mid_period(shop_dir: Path) -> None:
    settings = load_settings(shop_dir / "poas.toml")
    shop = settings.shop("demo")
    assert shop is not None and shop.platform == "shopify" and shop.pixel_id
    assert shop.webhook_secrets and shop.access_token is not None
    rules = load_rules_toml((shop_dir / "rules.toml").read_text())
    at = datetime(2026, 2, 1, tzinfo=OSLO)
    fee = rules.payment_fee_rule("klarna", at)
    assert fee is not None and (fee.percent, fee.fixed) == (D("2.99"), D("3"))
    ship = rules.shipping_rule("posten-hentested", "NO", 2000, at)
    assert ship is not None and ship.cost == D("65")
    fashion = rules.return_rule("FASH-001-1", "fashion")
    assert fashion is not None and fashion.rate == D("0.30")
    with (shop_dir / "costs.csv").open() as f:
        costs = list(csv.DictReader(f))
    per_variant = Counter(r["variant_id"] for r in costs)
    assert len(per_variant) == sum(len(p.variants) for p in cat.PRODUCTS)
    changed = [v for v, n in per_variant.items() if n > 1]
    assert changed
    since = datetime.combine(TODAY - timedelta(days=60), datetime.min.time(), OSLO)
    later = [r for r in costs if datetime.fromisoformat(r["valid_from"]) > since]
    assert {r["variant_id"] for r in later} == set(changed)


def _independent_campaign_numbers(root: Path) -> dict[str, dict[str, Decimal]]:
    """ROAS and POAS per campaign straight from the written files, without poas' engine."""
    rules = tomllib.loads((root / "rules.toml").read_text(), parse_float=Decimal)
    fees = {f["gateway"]: (D(f["percent"]) / 100, D(f["fixed"])) for f in rules["payment_fees"]}
    handling = {h["per"]: D(h["cost"]) for h in rules["handling"]}
    costs: dict[str, list[tuple[datetime, Decimal]]] = defaultdict(list)
    with (root / "costs.csv").open() as f:
        for r in csv.DictReader(f):
            costs[r["variant_id"]].append((datetime.fromisoformat(r["valid_from"]), D(r["unit_cost"])))

    def unit_cost(variant: int, at: datetime) -> Decimal:
        return max((row for row in costs[str(variant)] if row[0] <= at), key=lambda row: row[0])[1]

    def ship_cost(method: str, grams: int) -> Decimal:
        for s in rules["shipping"]:
            if s["method"] == method and s["min_grams"] <= grams < s["max_grams"]:
                return D(s["cost"])
        raise AssertionError(f"no shipping rule for {method} {grams} g")

    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    cancelled = {p.stem for p in (root / "cancellations").glob("*.json")}  # paid, then cancelled
    for o in load_orders(root):
        if o["financial_status"] != "paid" or str(o["id"]) in cancelled:
            continue
        query = {k: v[0] for k, v in parse_qs(urlsplit(o["landing_site"] or "").query).items()}
        if query.get("utm_source") != "facebook":
            continue
        at = datetime.fromisoformat(o["processed_at"])
        revenue = D(o["total_price"]) - D(o["total_tax"])
        cogs = sum(unit_cost(li["variant_id"], at) * li["quantity"] for li in o["line_items"])
        pct, fixed = fees[o["payment_gateway_names"][0]]
        fee = (D(o["total_price"]) * pct + fixed).quantize(D("0.01"))
        units = sum(li["quantity"] for li in o["line_items"])
        shipping = ship_cost(o["shipping_lines"][0]["code"], o["total_weight"])
        c = out[query["utm_campaign"]]
        c["revenue"] += revenue
        c["profit"] += revenue - cogs - fee - shipping - handling["order"] - handling["unit"] * units
    for r in json.loads((root / "spend.json").read_text()):
        out[r["campaign_id"]]["spend"] += D(r["spend"])
    return out


def test_campaigns_tell_the_seed_story_in_the_generators_own_truth(shop_dir: Path) -> None:
    truth = json.loads((shop_dir / "truth.json").read_text())
    by_name = {c["campaign"]: c for c in truth["campaigns"]}
    best, premium = by_name["Bestseller"], by_name["Premium"]
    assert D(best["roas"]) > D(premium["roas"])
    assert D(best["poas"]) < D(premium["poas"])
    assert D(best["poas"]) < 1 < D(premium["poas"])

    independent = _independent_campaign_numbers(shop_dir)
    for c in truth["campaigns"]:
        mine = independent[c["campaign_id"]]
        assert mine["spend"] == D(c["spend"])
        assert abs(mine["revenue"] - D(c["revenue_ex_vat"])) < D("0.01") * c["orders"]
        assert abs(mine["profit"] - D(c["gross_profit"])) < D("0.02") * c["orders"]
    best_id, premium_id = best["campaign_id"], premium["campaign_id"]

    def ratio(cid: str, key: str) -> Decimal:
        return independent[cid][key] / independent[cid]["spend"]

    assert ratio(best_id, "revenue") > ratio(premium_id, "revenue")
    assert ratio(best_id, "profit") < 1 < ratio(premium_id, "profit")


def test_return_rates_follow_the_categories(tmp_path: Path) -> None:
    shop = generate(seed=5, days=90, orders_per_day=80, today=TODAY)
    # orders older than the longest return delay (21 days) have had every return they will get
    cutoff = datetime.combine(TODAY - timedelta(days=22), datetime.min.time(), OSLO)
    sold: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    for o in shop.orders:
        if not o.sold or o.created_at >= cutoff:  # a cancelled order is never returned
            continue
        for ln in o.lines:
            sold[ln.product.category.name] += 1
        if o.refund is not None:
            for ret in o.refund.lines:
                returned[ret.line.product.category.name] += 1
    rates = {name: returned[name] / sold[name] for name in sold}
    assert 0.25 < rates["fashion"] < 0.35
    assert 0.05 < rates["home"] < 0.11
    assert rates["food"] < 0.03
    assert rates["fashion"] > 2.5 * rates["electronics"]
    restock = Counter(ret.restock for o in shop.refunds() for ret in (o.refund.lines if o.refund else []))
    assert restock["return"] > restock["no_restock"] > 0


def test_cancellations_follow_their_paid_order_and_parse_as_cancelled(shop_dir: Path) -> None:
    orders = {str(o["id"]): o for o in load_orders(shop_dir)}
    cancels = [json.loads(p.read_bytes()) for p in sorted((shop_dir / "cancellations").glob("*.json"))]
    assert len(cancels) > 0.01 * sum(1 for o in orders.values() if o["financial_status"] == "paid")
    refunded = {str(r["order_id"]) for r in load_refunds(shop_dir)}
    deliveries = json.loads((shop_dir / "webhooks.json").read_text())
    position = {(d["topic"], d["id"]): n for n, d in enumerate(deliveries)}
    for c in cancels:
        first = orders[str(c["id"])]
        assert first["financial_status"] == "paid" and first["cancelled_at"] is None
        assert str(c["id"]) not in refunded  # a cancelled order is not also returned
        order = parse_order(c, "demo")
        assert order.cancelled and order.cancelled_at is not None
        assert order.updated_at > parse_order(first, "demo").updated_at
        assert order.cancelled_at.astimezone(OSLO).date() < TODAY
        expected = "voided" if first["gateway"] == "klarna" else "refunded"
        assert c["financial_status"] == expected
        assert position[("orders/paid", c["id"])] < position[("orders/cancelled", c["id"])]
    truth = json.loads((shop_dir / "truth.json").read_text())
    assert truth["counts"]["cancelled"] == len(cancels)


def test_spend_rows_carry_the_purchases_meta_reports_at_each_campaigns_factor(shop_dir: Path) -> None:
    spend = json.loads((shop_dir / "spend.json").read_text())
    by_campaign: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # Meta's purchases, shop's orders
    for r in spend:
        types = [a["action_type"] for a in r.get("actions", [])]
        assert types in ([], ["offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase"])
        values = {a["action_type"]: a["value"] for a in r.get("action_values", [])}
        counts = {a["action_type"]: a["value"] for a in r.get("actions", [])}
        assert set(values) == set(counts)
        assert len(set(counts.values())) <= 1 and len(set(values.values())) <= 1  # one purchase, 3 names
        by_campaign[r["campaign_id"]][0] += int(counts.get("purchase", 0))
        if counts:
            assert int(counts["purchase"]) > 0 and D(values["purchase"]) > 0
    for o in load_orders(shop_dir):
        query = {k: v[0] for k, v in parse_qs(urlsplit(o["landing_site"] or "").query).items()}
        if query.get("utm_source") == "facebook" and o["financial_status"] != "voided":
            by_campaign[query["utm_campaign"]][1] += 1
    for c in cat.CAMPAIGNS:
        meta, shop = by_campaign[c.campaign_id]
        assert abs(D(meta) / D(shop) - c.meta_reporting) < D("0.15"), c.name
    truth = {c["campaign_id"]: c for c in json.loads((shop_dir / "truth.json").read_text())["campaigns"]}
    assert all(truth[k]["meta_purchases"] == v[0] for k, v in by_campaign.items())
    with (shop_dir / "spend.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["Purchases"]) for r in rows) == sum(v[0] for v in by_campaign.values())
    read = read_ads_manager_csv(shop_dir / "spend.csv", default_account=None, default_currency="NOK")
    assert sum(r.meta_purchases for r in read) == sum(v[0] for v in by_campaign.values())
    reported = sum(D(c["meta_purchase_value"]) for c in truth.values())
    assert sum(r.meta_purchase_value for r in read) == reported
