"""Writes the sample shop to disk: webhook payloads, costs.csv, rules.toml, spend, poas.toml, truth.json."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from poas.sources import sample_catalog as cat
from poas.sources.sample_payloads import OSLO, cancellation_payload, refund_payload, ts
from poas.sources.sample_shop import SHOP_DOMAIN, SHOP_ID, GenOrder, SampleShop, csv_text, dumps
from poas.sources.sample_truth import truth

PIXEL_ID = "1234567890123456"
ORDER_TOPIC = {"paid": "orders/paid", "pending": "orders/create", "voided": "orders/cancelled"}


def rules_toml() -> str:
    """The shop's cost rules in poas' rules TOML format (`poas.domain.rules`): example contract rates."""
    out = [
        "# Cost rules of the poas demo shop. Fees and carrier prices are EXAMPLE contract rates,",
        "# not anyone's published price list: replace them with your own contracts.",
        f'currency = "{cat.CURRENCY}"',
        "",
    ]
    for g in cat.GATEWAYS:
        out += ["[[payment_fees]]", f'id = "fee-{g.name}"', f'gateway = "{g.name}"']
        out += [f"percent = {(g.pct * 100).normalize():f}", f"fixed = {g.fixed}", ""]
    out += ["[zones]", 'domestic = ["NO"]', ""]
    for m in cat.SHIPPING_METHODS:
        low = 0
        for up_to, cost in m.bands:
            out += ["[[shipping]]", f'id = "{m.code}-{up_to // 1000}kg"', f'method = "{m.code}"']
            out += [
                'zone = "domestic"',
                f"min_grams = {low}",
                f"max_grams = {up_to + 1}",
                f"cost = {cost}",
                "",
            ]
            low = up_to + 1
    out += ["[[handling]]", 'id = "pick-pack-order"', 'per = "order"', f"cost = {cat.HANDLING_PER_ORDER}", ""]
    out += ["[[handling]]", 'id = "pick-pack-unit"', 'per = "unit"', f"cost = {cat.HANDLING_PER_UNIT}", ""]
    out += [
        "[returns]",
        "rate = 0.10",
        f"handling_cost = {cat.RETURN_HANDLING_PER_LINE}",
        "restock_share = 0.88",
    ]
    out.append("")
    for c in cat.CATEGORIES.values():
        out += ["[[returns.rules]]", f'id = "returns-{c.name}"', f'category = "{c.name}"']
        out += [f"rate = {c.return_rate}", ""]
    return "\n".join(out)


def costs_csv(shop: SampleShop) -> str:
    rows = [
        [
            r.variant.sku,
            str(r.variant.variant_id),
            str(r.unit_cost),
            cat.CURRENCY,
            # a cost is valid from midnight in the shop's zone
            ts(_oslo_midnight(r.valid_from)),
        ]
        for r in shop.costs
    ]
    return csv_text(["sku", "variant_id", "unit_cost", "currency", "valid_from"], rows)


def _oslo_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), OSLO)


def spend_csv(shop: SampleShop) -> str:
    """The same spend as an Ads Manager export with a daily breakdown."""
    header = [
        "Reporting starts",
        "Reporting ends",
        "Account ID",
        "Campaign ID",
        "Campaign name",
        "Ad set ID",
        "Ad set name",
        "Ad ID",
        "Ad name",
        "Day",
        "Currency",
        f"Amount spent ({cat.CURRENCY})",
        "Impressions",
        "Link clicks",
        "Purchases",
        "Purchases conversion value",
    ]
    rows = [
        [
            shop.since.isoformat(),
            shop.until.isoformat(),
            r["account_id"],
            r["campaign_id"],
            r["campaign_name"],
            r["adset_id"],
            r["adset_name"],
            r["ad_id"],
            r["ad_name"],
            r["date_start"],
            r["account_currency"],
            r["spend"],
            r["impressions"],
            r["clicks"],
            _purchase_action(r, "actions") or "0",
            _purchase_action(r, "action_values") or "0.00",
        ]
        for r in shop.spend
    ]
    return csv_text(header, rows)


def _purchase_action(row: dict[str, Any], field: str) -> str | None:
    """The purchases (or their value) Meta reported in an insights row, as the export prints them."""
    return next((a["value"] for a in row.get(field, []) if a["action_type"] == "purchase"), None)


def poas_toml(shop: SampleShop) -> str:
    sec = shop.secrets
    return "\n".join(
        [
            "# poas configuration of the demo shop. The secrets below only work against the local",
            "# Meta sandbox (poas sandbox / poas demo); they are generated from the seed.",
            "[[shops]]",
            f'id = "{SHOP_ID}"',
            'platform = "shopify"',
            f'domain = "{SHOP_DOMAIN}"',
            f'currency = "{cat.CURRENCY}"',
            'timezone = "Europe/Oslo"',
            "prices_include_vat = true",
            f'webhook_secrets = ["{sec["webhook_secret"]}"]',
            f'api_token = "{sec["api_token"]}"',
            f'pixel_id = "{PIXEL_ID}"',
            f'access_token = "{sec["access_token"]}"',
            f'app_secret = "{sec["app_secret"]}"',
            f'ad_account_id = "{cat.AD_ACCOUNT_ID}"',
            "# ads consent: the banner's _consent_ads cart attribute, else granted (docs/configuration.md)",
            'consent_default = "granted"',
            'missing_cost = "fallback_margin"',
            'default_margin = "0.35"',
            "",
            "[shops.events]",
            'purchase_topic = "paid"',
            'value_basis = "total"',
            "finalize_on_refund = true  # the demo shows AppendValue corrections as refunds arrive",
            "",
        ]
    )


def deliveries(shop: SampleShop) -> list[dict[str, Any]]:
    """Every webhook Shopify would send, in the order it would send them, with its headers' values."""
    base = uuid.UUID(shop.secrets["webhook_uuid_seed"])
    items: list[tuple[Any, dict[str, Any]]] = []
    for o in shop.orders:
        items.append(
            (
                o.created_at,
                {
                    "topic": ORDER_TOPIC[o.status],
                    "file": f"shopify_orders/{o.order_id}.json",
                    "id": o.order_id,
                },
            )
        )
        if o.cancelled_at is not None:
            item = {"topic": "orders/cancelled", "file": f"cancellations/{o.order_id}.json", "id": o.order_id}
            items.append((o.cancelled_at, item))
        if o.refund is not None:
            items.append(
                (
                    o.refund.processed_at,
                    {
                        "topic": "refunds/create",
                        "file": f"refunds/{o.refund.refund_id}.json",
                        "id": o.order_id,
                    },
                )
            )
    items.sort(key=lambda x: x[0])
    out = []
    for n, (when, item) in enumerate(items):
        item["triggered_at"] = ts(when)
        item["webhook_id"] = str(uuid.uuid5(base, f"webhook-{n}"))
        item["event_id"] = str(uuid.uuid5(base, f"event-{n}"))
        out.append(item)
    return out


def history_payload(o: GenOrder) -> dict[str, Any]:
    """An order of the shop's history as the Shopify API returns it today: cancelled, or with its
    refund inside `refunds` (the same order the webhooks of its time would have left in the store)."""
    if o.cancelled_at is not None:
        return cancellation_payload(o)
    if o.refund is not None:
        return {**o.payload, "refunds": [refund_payload(o)]}
    return o.payload


def write_history(shop: SampleShop, out: Path) -> dict[str, int]:
    """`history/orders.jsonl` (one Shopify order per line, oldest first) and `history/spend.json`."""
    folder = out / "history"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "orders.jsonl").open("wb") as f:
        for o in shop.history:
            f.write(dumps(history_payload(o)) + b"\n")
    (folder / "spend.json").write_text(json.dumps(shop.history_spend, ensure_ascii=False) + "\n")
    return {"history_orders": len(shop.history), "history_spend_rows": len(shop.history_spend)}


def write_shop(shop: SampleShop, out: Path) -> dict[str, int]:
    """Write every file of the sample shop under `out` (created if missing); returns counts by kind."""
    orders_dir, refunds_dir, cancels_dir = out / "shopify_orders", out / "refunds", out / "cancellations"
    for folder in (orders_dir, refunds_dir, cancels_dir):
        folder.mkdir(parents=True, exist_ok=True)
    for o in shop.orders:
        (orders_dir / f"{o.order_id}.json").write_bytes(dumps(o.payload))
        if o.cancelled_at is not None:
            (cancels_dir / f"{o.order_id}.json").write_bytes(dumps(cancellation_payload(o)))
        if o.refund is not None:
            (refunds_dir / f"{o.refund.refund_id}.json").write_bytes(dumps(refund_payload(o)))
    (out / "webhooks.json").write_text(json.dumps(deliveries(shop), indent=1) + "\n")
    (out / "costs.csv").write_text(costs_csv(shop))
    (out / "rules.toml").write_text(rules_toml())
    (out / "spend.json").write_text(json.dumps(shop.spend, ensure_ascii=False, indent=1) + "\n")
    (out / "spend.csv").write_text(spend_csv(shop))
    (out / "poas.toml").write_text(poas_toml(shop))
    (out / "truth.json").write_text(json.dumps(truth(shop), ensure_ascii=False, indent=1) + "\n")
    history = write_history(shop, out) if shop.history_days else {}
    return {
        **history,
        "orders": len(shop.orders),
        "refunds": len(shop.refunds()),
        "cancellations": sum(1 for o in shop.orders if o.cancelled_at is not None),
        "cost_rows": len(shop.costs),
        "spend_rows": len(shop.spend),
    }
