"""The sample shop's own truth: return rates and per-campaign ROAS / POAS from its own costs and rules.

Computed straight from the generator's data (not through poas' profit engine), so tests can hold poas'
numbers against it. Profit follows ARCHITECTURE.md: revenue ex VAT (shipping included) − COGS at order
time − shipping cost − payment fee − handling; realized profit also takes the refunds into account.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from poas.sources import sample_catalog as cat
from poas.sources.sample_catalog import D, q

if TYPE_CHECKING:
    from poas.sources.sample_shop import GenOrder, SampleShop

ZERO = D(0)
RESTOCK_SHARE = D("0.88")  # the generator restocks 88 % of returned lines


@dataclass(slots=True)
class Tally:
    orders: int = 0
    revenue_ex_vat: Decimal = ZERO
    revenue_incl_vat: Decimal = ZERO
    cogs: Decimal = ZERO
    shipping_cost: Decimal = ZERO
    payment_fee: Decimal = ZERO
    handling: Decimal = ZERO
    gross_profit: Decimal = ZERO
    expected_profit: Decimal = ZERO
    realized_profit: Decimal = ZERO
    refunded_ex_vat: Decimal = ZERO

    def merge(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @classmethod
    def of(cls, o: GenOrder) -> Tally:
        """One paid order's figures (computed once, then merged into every total it belongs to)."""
        self = cls()
        gross = o.gross_profit()
        self.orders = 1
        self.revenue_ex_vat = o.revenue_ex_vat()
        self.revenue_incl_vat = o.total
        self.cogs = o.cogs()
        self.shipping_cost = o.shipping_cost()
        self.payment_fee = o.payment_fee()
        self.handling = o.handling()
        self.gross_profit = gross
        expected = gross
        for ln in o.lines:
            p = ln.product.category.return_rate
            expected -= p * (ln.net - ln.unit_cost * ln.qty * RESTOCK_SHARE + cat.RETURN_HANDLING_PER_LINE)
        self.expected_profit = expected
        realized = gross
        if o.refund is not None:
            for ret in o.refund.lines:
                ln = ret.line
                self.refunded_ex_vat += ln.net
                realized -= ln.net + cat.RETURN_HANDLING_PER_LINE
                if ret.restock == "return":
                    realized += ln.unit_cost * ln.qty
        self.realized_profit = realized
        return self

    def as_dict(self, spend: Decimal | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"orders": self.orders}
        for name in (
            "revenue_ex_vat",
            "revenue_incl_vat",
            "cogs",
            "shipping_cost",
            "payment_fee",
            "handling",
            "gross_profit",
            "expected_profit",
            "realized_profit",
            "refunded_ex_vat",
        ):
            out[name] = str(q(getattr(self, name)))
        if spend is not None:
            out["spend"] = str(q(spend))
            out["roas"] = ratio(self.revenue_ex_vat, spend)
            out["roas_incl_vat"] = ratio(self.revenue_incl_vat, spend)
            out["poas"] = ratio(self.gross_profit, spend)
            out["poas_expected"] = ratio(self.expected_profit, spend)
            out["poas_realized"] = ratio(self.realized_profit, spend)
        return out


def _purchase(row: dict[str, Any], field: str) -> Decimal:
    return next((D(a["value"]) for a in row.get(field, []) if a["action_type"] == "purchase"), ZERO)


def ratio(num: Decimal, den: Decimal) -> str | None:
    return str((num / den).quantize(D("0.0001"))) if den else None


def truth(shop: SampleShop) -> dict[str, Any]:
    spend: dict[str, Decimal] = {}
    meta: dict[str, dict[str, Any]] = {c.campaign_id: {"purchases": 0, "value": ZERO} for c in cat.CAMPAIGNS}
    for row in shop.spend:
        spend[row["campaign_id"]] = spend.get(row["campaign_id"], ZERO) + D(row["spend"])
        reported = meta[row["campaign_id"]]
        reported["purchases"] += int(_purchase(row, "actions"))
        reported["value"] += _purchase(row, "action_values")
    campaigns: dict[str, Tally] = {c.campaign_id: Tally() for c in cat.CAMPAIGNS}
    unattributed, total = Tally(), Tally()
    sold: dict[str, int] = {}
    returned: dict[str, int] = {}
    counts = {"orders": len(shop.orders), "paid": 0, "pending": 0, "voided": 0, "cancelled": 0, "refunds": 0}
    consent = {"granted": 0, "denied": 0, "unknown": 0}
    paid_sendable = 0
    for o in shop.orders:
        counts["cancelled" if o.cancelled_at is not None else o.status] += 1
        if not o.sold:
            continue
        consent["unknown" if o.ads_consent is None else "granted" if o.ads_consent else "denied"] += 1
        if o.ads_consent is not False:
            paid_sendable += 1
        one = Tally.of(o)
        (campaigns[o.campaign.campaign_id] if o.campaign else unattributed).merge(one)
        total.merge(one)
        for ln in o.lines:
            sold[ln.product.category.name] = sold.get(ln.product.category.name, 0) + ln.qty
        if o.refund is not None:
            counts["refunds"] += 1
            for ret in o.refund.lines:
                name = ret.line.product.category.name
                returned[name] = returned.get(name, 0) + ret.line.qty
    categories = {
        name: {
            "vat_rate": str(c.vat_rate),
            "return_rate": str(c.return_rate),
            "units_sold": sold.get(name, 0),
            "units_returned_so_far": returned.get(name, 0),
            "observed_return_rate": ratio(D(returned.get(name, 0)), D(sold.get(name, 0))),
        }
        for name, c in cat.CATEGORIES.items()
    }
    return {
        "seed": shop.seed,
        "today": shop.today.isoformat(),
        "since": shop.since.isoformat(),
        "until": shop.until.isoformat(),
        "currency": cat.CURRENCY,
        "definitions": {
            "revenue": "revenue ex VAT incl. shipping charged, paid orders",
            "roas": "revenue_ex_vat / spend",
            "poas": "gross_profit / spend",
            "observed_return_rate": "refunds issued so far; recent orders are still inside the return window",
            "meta_purchases": "what Meta's insights report (actions / action_values, purchase): the "
            "orders attributed to the campaign, cancelled ones too, times its meta_reporting factor, "
            "at the Pixel's value (incl. VAT)",
        },
        "counts": counts,
        "paid_orders_by_ads_consent": consent,
        "paid_orders_sendable_consent_default_granted": paid_sendable,
        "categories": categories,
        "campaigns": [
            {
                "campaign_id": c.campaign_id,
                "campaign": c.name,
                **campaigns[c.campaign_id].as_dict(spend[c.campaign_id]),
                "meta_reporting": str(c.meta_reporting),
                "meta_purchases": meta[c.campaign_id]["purchases"],
                "meta_purchase_value": str(q(meta[c.campaign_id]["value"])),
            }
            for c in cat.CAMPAIGNS
        ],
        "unattributed": unattributed.as_dict(),
        "total": total.as_dict(sum(spend.values(), ZERO)),
    }
