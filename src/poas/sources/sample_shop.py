"""A deterministic sample Norwegian Shopify shop: orders, refunds, costs, rules, spend and its own truth.

`generate(seed=…, days=…, orders_per_day=…, today=…)` builds everything in memory; `SampleShop.write(dir)`
puts it on disk as the files poas imports (Shopify webhook payloads, costs.csv, rules.toml, spend.json /
spend.csv, poas.toml) plus `truth.json`: the generator's own numbers, computed from its own costs and
rules without poas' engine, so poas' results can be checked against them.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from poas.sources import sample_catalog as cat
from poas.sources.sample_catalog import CURRENCY, Ad, AdSet, Campaign, D, Product, Variant, q, s
from poas.sources.sample_payloads import order_payload

OSLO = ZoneInfo("Europe/Oslo")
SHOP_ID = "demo"
SHOP_DOMAIN = "poas-demo.myshopify.com"
API_VERSION = "2025-10"
ZERO = D(0)

_WEEKDAY = (D("1.10"), D("1.00"), D("0.95"), D("0.95"), D("0.85"), D("0.90"), D("1.25"))  # Mon..Sun
_HOURS = (1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 7, 6, 6, 6, 6, 7, 8, 10, 11, 10, 7, 3)  # local hour weights
_ASCII = str.maketrans({"ø": "o", "å": "a", "æ": "ae"})
_HOURS_CUM = list(itertools.accumulate(_HOURS))
CANCEL_RATE = 0.03  # paid orders the customer cancels before they ship, within about a day
RETURNING_SHARE = 0.25  # orders from a customer who bought before
# How much likelier a customer acquired by the campaign is to come back than one acquired elsewhere
# (the demo's story: brand video buyers come back, retargeting buyers rarely do). Example weights.
LOYALTY = {"Merkevare Video": 8.0, "Premium": 2.0, "Retargeting": 0.5}
# The shop's order rate in its older history, against the window's: it grew into the window
HISTORY_RATE = D("0.5")
RETURN_DIRECT = 0.6  # a returning customer's order comes through no campaign (newsletter, direct)
# Meta's insights name one purchase under these overlapping action types, with the same value
PURCHASE_ACTION_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase")


@dataclass(slots=True)
class Line:
    line_id: int
    product: Product
    variant: Variant
    qty: int
    discount: Decimal
    unit_cost: Decimal

    @property
    def gross(self) -> Decimal:
        """Paid for the line incl. VAT after its discount."""
        return self.variant.price * self.qty - self.discount

    @property
    def tax(self) -> Decimal:
        rate = self.product.category.vat_rate
        return q(self.gross * rate / (1 + rate))

    @property
    def net(self) -> Decimal:
        return self.gross - self.tax


@dataclass(slots=True)
class Returned:
    line: Line
    restock: str  # "return" or "no_restock"


@dataclass(slots=True)
class GenRefund:
    refund_id: int
    processed_at: datetime
    lines: list[Returned]


@dataclass(slots=True)
class GenOrder:
    order_id: int
    number: int
    created_at: datetime  # aware, UTC
    lines: list[Line]
    shipping: cat.ShippingMethod
    shipping_price: Decimal  # incl. VAT
    gateway: cat.Gateway
    status: str  # paid | pending | voided
    campaign: Campaign | None
    adset: AdSet | None
    ad: Ad | None
    ads_consent: bool | None
    refund: GenRefund | None = None
    cancelled_at: datetime | None = None  # a paid order cancelled later (orders/cancelled arrives then)
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def sold(self) -> bool:
        """Paid and not cancelled since: what the shop's reports count (and the truth tallies)."""
        return self.status == "paid" and self.cancelled_at is None

    @property
    def shipping_tax(self) -> Decimal:
        return q(self.shipping_price * D("0.25") / D("1.25"))

    @property
    def total(self) -> Decimal:
        return sum((ln.gross for ln in self.lines), ZERO) + self.shipping_price

    @property
    def grams(self) -> int:
        return sum(ln.variant.grams * ln.qty for ln in self.lines)

    def revenue_ex_vat(self) -> Decimal:
        return sum((ln.net for ln in self.lines), ZERO) + self.shipping_price - self.shipping_tax

    def cogs(self) -> Decimal:
        return sum((ln.unit_cost * ln.qty for ln in self.lines), ZERO)

    def shipping_cost(self) -> Decimal:
        return shipping_cost(self.shipping, self.grams)

    def payment_fee(self) -> Decimal:
        return q(self.total * self.gateway.pct + self.gateway.fixed)

    def handling(self) -> Decimal:
        return cat.HANDLING_PER_ORDER + cat.HANDLING_PER_UNIT * sum(ln.qty for ln in self.lines)

    def gross_profit(self) -> Decimal:
        return (
            self.revenue_ex_vat() - self.cogs() - self.shipping_cost() - self.payment_fee() - self.handling()
        )


def shipping_cost(method: cat.ShippingMethod, grams: int) -> Decimal:
    for up_to, cost in method.bands:
        if grams <= up_to:
            return cost
    return method.bands[-1][1]


@dataclass(frozen=True, slots=True)
class CostRow:
    variant: Variant
    unit_cost: Decimal
    valid_from: date


@dataclass(slots=True)
class SampleShop:
    seed: int
    today: date
    days: int
    orders: list[GenOrder]
    costs: list[CostRow]
    spend: list[dict[str, Any]]  # insights-shaped rows, one per ad and day
    secrets: dict[str, str]
    # The shop's older life before `since` (the demo imports it first): orders final as of today, and
    # their spend rows; the customers acquired then come back in the `days` window.
    history_days: int = 0
    history: list[GenOrder] = field(default_factory=list)
    history_spend: list[dict[str, Any]] = field(default_factory=list)

    @property
    def since(self) -> date:
        return self.today - timedelta(days=self.days)

    @property
    def until(self) -> date:
        return self.today - timedelta(days=1)

    @property
    def history_since(self) -> date:
        return self.since - timedelta(days=self.history_days)

    def refunds(self) -> list[GenOrder]:
        return [o for o in self.orders if o.refund is not None]


def _cost_book(rng: random.Random, start: date, days: int) -> list[CostRow]:
    rows = []
    for product in cat.PRODUCTS:
        for v in product.variants:
            rows.append(CostRow(v, v.cost, start - timedelta(days=60)))
            if days >= 20 and rng.random() < 0.15:
                when = start + timedelta(days=rng.randint(days // 4, 3 * days // 4))
                factor = rng.choice((D("1.06"), D("1.08"), D("1.10"), D("1.12"), D("0.94")))
                rows.append(CostRow(v, q(v.cost * factor), when))
    return rows


def _pools() -> dict[str, list[Product]]:
    pools: dict[str, list[Product]] = {"all": list(cat.PRODUCTS)}
    for p in cat.PRODUCTS:
        pools.setdefault(p.category.name, []).append(p)
        for t in sorted(p.tags):
            pools.setdefault(t, []).append(p)
    return pools


class _Gen:
    """One generation run: the random stream and the counters that make ids unique."""

    def __init__(self, seed: int, today: date, days: int, orders_per_day: int, history_days: int = 0) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.days = days  # the history's days included
        self.history_days = history_days
        self.per_day = orders_per_day
        self.start = today - timedelta(days=days)
        self.pools = _pools()
        self.line_no = 0
        self.refund_no = 0
        self.customers: list[dict[str, Any]] = []
        self.loyalty_cum: list[float] = []  # running sum of the customers' loyalty weights
        self.costs = _cost_book(self.rng, self.start, days)
        self.cost_index: dict[int, list[CostRow]] = {}
        for row in sorted(self.costs, key=lambda r: r.valid_from):
            self.cost_index.setdefault(row.variant.variant_id, []).append(row)
        self.today_start = datetime.combine(today, time(0), OSLO).astimezone(UTC)
        self.cum: dict[tuple[Decimal, ...], list[float]] = {}

    def cost_at(self, variant: Variant, when: datetime) -> Decimal:
        day = when.astimezone(OSLO).date()
        cost = variant.cost
        for row in self.cost_index[variant.variant_id]:
            if row.valid_from <= day:
                cost = row.unit_cost
        return cost

    def day_factor(self, day: date, index: int) -> Decimal:
        f = _WEEKDAY[day.weekday()]
        if 20 <= day.day <= 22:  # payday in Norway is the 20th
            f *= D("1.15")
        trend = D("0.9") + D("0.2") * D(index) / D(max(self.days - 1, 1))
        if index < self.history_days:
            trend *= HISTORY_RATE
        return f * trend

    def pick_weighted(self, items: list[Any], weights: list[Decimal]) -> Any:
        key = tuple(weights)
        cum = self.cum.get(key)
        if cum is None:
            cum = self.cum[key] = list(itertools.accumulate(float(w) for w in weights))
        return self.rng.choices(items, cum_weights=cum)[0]

    def customer(self, campaign: Campaign | None) -> tuple[dict[str, Any], bool]:
        """(customer, returning): one who bought before (RETURNING_SHARE of orders, the more likely the
        more loyal her acquiring campaign's buyers are: LOYALTY), else a new one acquired by `campaign`."""
        if self.customers and self.rng.random() < RETURNING_SHARE:
            return self.rng.choices(self.customers, cum_weights=self.loyalty_cum)[0], True
        rng = self.rng
        first, last = rng.choice(cat.FIRST_NAMES), rng.choice(cat.LAST_NAMES)
        city, zip_code = rng.choice(cat.CITIES)
        no = len(self.customers) + 1
        ascii_name = f"{first}.{last}".lower().translate(_ASCII)
        denied = rng.random()
        c = {
            "id": 7_100_000_000_000 + no,
            "first_name": first,
            "last_name": last,
            "email": f"{ascii_name}{no}@example.no",
            "phone": f"+474{rng.randint(0, 9_999_999):07d}",
            "city": city,
            "zip": zip_code,
            "address1": f"Eksempelveien {rng.randint(1, 120)}",
            # ads-tracking consent from the cookie banner: most agree, some refuse, some never answered
            "ads_consent": True if denied < 0.85 else (False if denied < 0.93 else None),
            # the newsletter box, independent of the banner (and of what is sent to Meta): one in three
            "newsletter": no % 3 == 0,
            "fbp": f"fb.1.{rng.randint(1_690_000_000_000, 1_700_000_000_000)}.{rng.randint(10**9, 10**10)}",
            "ip": f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}",
            "ua": rng.choice(cat.USER_AGENTS),
        }
        self.customers.append(c)
        weight = LOYALTY.get(campaign.name, 1.0) if campaign is not None else 1.0
        self.loyalty_cum.append((self.loyalty_cum[-1] if self.loyalty_cum else 0.0) + weight)
        return c, False

    def lines(self, pool: list[Product], campaign: Campaign | None, when: datetime) -> list[Line]:
        rng = self.rng
        n = rng.choices((1, 2, 3), weights=(60, 28, 12))[0]
        chosen = rng.sample(pool, min(n, len(pool)))
        out = []
        for p in chosen:
            v = rng.choice(p.variants)
            qty = rng.choice((1, 1, 2, 3)) if "bestseller" in p.tags else rng.choice((1, 1, 1, 1, 2))
            self.line_no += 1
            out.append(Line(15_100_000_000_000 + self.line_no, p, v, qty, ZERO, self.cost_at(v, when)))
        return out

    def order(self, number: int, when: datetime, day_index: int) -> GenOrder:
        rng = self.rng
        campaign: Campaign | None = self.pick_weighted(
            [*cat.CAMPAIGNS, None], [*(c.share for c in cat.CAMPAIGNS), cat.UNATTRIBUTED_SHARE]
        )
        cust, returning = self.customer(campaign)
        if returning and rng.random() < RETURN_DIRECT:
            campaign = None
        adset = ad = None
        if campaign is not None:
            adset = self.pick_weighted(list(campaign.adsets), [D("0.55"), D("0.45")][: len(campaign.adsets)])
            ad = self.pick_weighted(list(adset.ads), [a.weight for a in adset.ads])
        pool = self.pools[campaign.pool if campaign else "all"]
        lines = self.lines(pool, campaign, when)
        if rng.random() < 0.12:  # VELKOMMEN10: 10 % off every line
            for ln in lines:
                ln.discount = q(ln.variant.price * ln.qty * D("0.10"))
        grams = sum(ln.variant.grams * ln.qty for ln in lines)
        methods = [m for m in cat.SHIPPING_METHODS if grams <= m.max_grams]
        small = [m for m in methods if m.code == "posten-postkasse"]
        if small and rng.random() < 0.35:
            method = small[0]
        else:
            others = [m for m in methods if m.code != "posten-postkasse"]
            method = self.pick_weighted(others, [D("0.7"), D("0.3")][: len(others)])
        subtotal = sum((ln.gross for ln in lines), ZERO)
        price = ZERO if method.free_over is not None and subtotal >= method.free_over else method.price
        gateway = self.pick_weighted(list(cat.GATEWAYS), [g.share for g in cat.GATEWAYS])
        status = "paid"
        if rng.random() < 0.015:
            status = "voided"
        elif gateway.name == "klarna" and day_index >= self.days - 2 and rng.random() < 0.25:
            status = "pending"
        o = GenOrder(
            order_id=6_100_000_000_000 + number,
            number=number,
            created_at=when,
            lines=lines,
            shipping=method,
            shipping_price=price,
            gateway=gateway,
            status=status,
            campaign=campaign,
            adset=adset,
            ad=ad,
            ads_consent=cust["ads_consent"],
        )
        if status == "paid":
            o.cancelled_at = self.cancellation(o)
            if o.cancelled_at is None:
                o.refund = self.refund(o)
        o.payload = order_payload(o, cust, rng)
        return o

    def cancellation(self, o: GenOrder) -> datetime | None:
        """When the customer cancels the paid order (before it ships), if it happened before today."""
        if self.rng.random() >= CANCEL_RATE:
            return None
        at = (o.created_at + timedelta(hours=self.rng.uniform(2, 30))).replace(microsecond=0)
        return at if at < self.today_start else None

    def refund(self, o: GenOrder) -> GenRefund | None:
        rng = self.rng
        returned = [
            Returned(ln, "return" if rng.random() < 0.88 else "no_restock")
            for ln in o.lines
            if rng.random() < float(ln.product.category.return_rate)
        ]
        if not returned:
            return None
        # the 14-day right of withdrawal runs from delivery: goods come back 2 to 21 days after the order
        at = o.created_at + timedelta(days=rng.uniform(2, 21))
        if at >= self.today_start:
            return None  # not returned yet as of today
        self.refund_no += 1
        return GenRefund(1_010_000_000_000 + self.refund_no, at.replace(microsecond=0), returned)

    def run(self) -> list[GenOrder]:
        orders = []
        number = 1000
        for i in range(self.days):
            day = self.start + timedelta(days=i)
            mu = float(self.per_day * self.day_factor(day, i))
            n = max(0, round(self.rng.gauss(mu, mu**0.5)))
            stamps = sorted(
                datetime.combine(
                    day,
                    time(
                        self.rng.choices(range(24), cum_weights=_HOURS_CUM)[0],
                        self.rng.randrange(60),
                        self.rng.randrange(60),
                    ),
                    OSLO,
                ).astimezone(UTC)
                for _ in range(n)
            )
            for when in stamps:
                number += 1
                orders.append(self.order(number, when, i))
        return orders

    def spend(self, orders: list[GenOrder]) -> list[dict[str, Any]]:
        """Daily spend per ad, aimed so each campaign's revenue ex VAT / spend ≈ its target ROAS, with
        the purchases Meta reports for the ad and day (`actions` / `action_values`, see meta_reported)."""
        rows: list[dict[str, Any]] = []
        weights = [self.day_factor(self.start + timedelta(days=i), i) for i in range(self.days)]
        pixel: dict[tuple[str, str], list[Decimal]] = {}  # (ad, day) -> order totals the Pixel saw
        for o in orders:
            if o.ad is not None and o.status != "voided":
                key = (o.ad.ad_id, o.created_at.astimezone(OSLO).date().isoformat())
                pixel.setdefault(key, []).append(o.total)
        for c in cat.CAMPAIGNS:
            revenue = sum((o.revenue_ex_vat() for o in orders if o.campaign is c and o.sold), ZERO)
            total = revenue / c.target_roas
            noisy = [w * D(str(round(self.rng.gauss(1, 0.08), 3))) for w in weights]
            norm = sum(noisy, ZERO) or D(1)
            set_w = [D("0.55"), D("0.45")]
            for i, w in enumerate(noisy):
                day = (self.start + timedelta(days=i)).isoformat()
                for adset, sw in zip(c.adsets, set_w, strict=True):
                    for ad in adset.ads:
                        amount = q(total * w / norm * sw * ad.weight)
                        cpm = D(self.rng.randint(70, 130))
                        impressions = int(amount / cpm * 1000)
                        rows.append(
                            {
                                "account_id": cat.AD_ACCOUNT_ID,
                                "account_currency": CURRENCY,
                                "campaign_id": c.campaign_id,
                                "campaign_name": c.name,
                                "adset_id": adset.adset_id,
                                "adset_name": adset.name,
                                "ad_id": ad.ad_id,
                                "ad_name": ad.name,
                                "date_start": day,
                                "date_stop": day,
                                "spend": s(amount),
                                "impressions": str(impressions),
                                "clicks": str(int(impressions * self.rng.uniform(0.008, 0.02))),
                                **self.meta_reported(pixel.get((ad.ad_id, day), []), c.meta_reporting),
                            }
                        )
        return rows

    def meta_reported(self, totals: list[Decimal], factor: Decimal) -> dict[str, Any]:
        """`actions` / `action_values` as Meta's insights return them for one ad and day: the orders the
        shop attributes to the ad there, times the campaign's reporting factor (rounded at random, so
        the sums keep the factor), valued at the Pixel's value (the order total incl. VAT). Meta leaves
        both fields out when nothing was reported."""
        if not totals:
            return {}
        exact = D(len(totals)) * factor
        count = int(exact) + (1 if self.rng.random() < float(exact - int(exact)) else 0)
        if count == 0:
            return {}
        value = q(sum(totals, ZERO) / len(totals) * count)
        return {
            "actions": [{"action_type": t, "value": str(count)} for t in PURCHASE_ACTION_TYPES],
            "action_values": [{"action_type": t, "value": s(value)} for t in PURCHASE_ACTION_TYPES],
        }


def generate(
    *, seed: int = 7, days: int = 90, orders_per_day: int = 150, today: date, history_days: int = 0
) -> SampleShop:
    """The whole sample shop for the `days` days ending yesterday (relative to `today`), and with
    `history_days` the shop's life before them (`SampleShop.history`): one run over both, so the
    customers of the history come back in the window as the generator's loyalty weights say."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if orders_per_day < 1:
        raise ValueError(f"orders_per_day must be at least 1, got {orders_per_day}")
    if history_days < 0:
        raise ValueError(f"history_days must be 0 or more, got {history_days}")
    gen = _Gen(seed, today, history_days + days, orders_per_day, history_days)
    orders = gen.run()
    spend = gen.spend(orders)
    secrets = {
        "webhook_secret": f"demo-whsec-{gen.rng.getrandbits(96):024x}",
        "access_token": f"EAADEMO{gen.rng.getrandbits(160):040x}",
        "app_secret": f"{gen.rng.getrandbits(128):032x}",
        "api_token": f"demo-api-{gen.rng.getrandbits(96):024x}",
        "webhook_uuid_seed": str(uuid.UUID(int=gen.rng.getrandbits(128))),
    }
    since = today - timedelta(days=days)
    start = datetime.combine(since, time(0), OSLO).astimezone(UTC)
    first = since.isoformat()
    return SampleShop(
        seed,
        today,
        days,
        [o for o in orders if o.created_at >= start],
        gen.costs,
        [r for r in spend if r["date_start"] >= first],
        secrets,
        history_days,
        [o for o in orders if o.created_at < start],
        [r for r in spend if r["date_start"] < first],
    )


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
