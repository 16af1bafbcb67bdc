"""The profit calculator: one order's revenue ex VAT, costs and profit, with an explainable breakdown.

Definitions (ARCHITECTURE.md "Profit definitions"), all in the shop currency, each component
rounded half-even to the minor unit per line, so the components add up to the profit exactly:

    revenue_ex_vat  = Σ non-gift-card lines (unit price × qty − discount − VAT) [+ shipping ex VAT]
    gross_profit    = revenue_ex_vat − cogs − shipping_cost − payment_fee − handling_cost
    expected_profit = gross_profit − Σ lines p_return × (revenue − cogs × restock share + return handling)
    realized_profit = gross_profit − refunded revenue ex VAT + cost of restocked goods − return handling
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Literal

from poas.domain.costs import CostBook
from poas.domain.fx import FxError, FxTable, FxUse
from poas.domain.money import Money, check_currency, exponent
from poas.domain.order import Order, OrderLine, RestockType
from poas.domain.rules import CostRules, HandlingPer

if TYPE_CHECKING:
    from poas.settings import ShopConfig

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
MissingCost = Literal["skip", "fallback_margin", "block"]
_MISSING_COST = ("skip", "fallback_margin", "block")
_RECOVERS_COST = frozenset({RestockType.RETURN, RestockType.CANCEL, RestockType.LEGACY_RESTOCK})
_RETURNED = frozenset({RestockType.RETURN, RestockType.LEGACY_RESTOCK})


class ProfitError(ValueError):
    """An order the calculator cannot price (a refund naming an unknown line, a bad policy)."""


class MissingCostError(ProfitError):
    """The `block` policy met lines without a cost; `keys` lists them."""

    def __init__(self, order_id: str, keys: list[str]) -> None:
        self.keys = keys
        super().__init__(
            f"order {order_id}: no unit cost for {', '.join(keys)} at the order time "
            "(policy block: import the cost, then recompute)"
        )


@dataclass(frozen=True, slots=True)
class ProfitPolicy:
    """How to treat what the order and the cost book don't say."""

    missing_cost: MissingCost = "fallback_margin"
    default_margin: Decimal | None = None  # gross margin assumed when a cost is missing
    category_margins: Mapping[str, Decimal] = field(default_factory=dict)
    include_shipping_in_revenue: bool = True
    default_vat_rate: Decimal | None = None  # for VAT-inclusive lines carrying neither tax nor a rate

    def __post_init__(self) -> None:
        if self.missing_cost not in _MISSING_COST:
            raise ProfitError(
                f"missing_cost: {self.missing_cost!r} must be one of {', '.join(_MISSING_COST)}"
            )
        margins = {"default_margin": self.default_margin, **self.category_margins}
        for name, m in margins.items():
            if m is not None and not (m < ONE):
                raise ProfitError(f"margin {name}: {m} must be below 1")
        if self.default_vat_rate is not None and not ZERO <= self.default_vat_rate < ONE:
            raise ProfitError(f"default_vat_rate: {self.default_vat_rate} must be in [0, 1)")

    @classmethod
    def from_shop(cls, shop: ShopConfig) -> ProfitPolicy:
        missing: Any = str(shop.missing_cost.value)
        return cls(
            missing_cost=missing,
            default_margin=shop.default_margin,
            category_margins=dict(shop.category_margins),
            include_shipping_in_revenue=shop.include_shipping_in_revenue,
            default_vat_rate=shop.default_vat_rate if shop.prices_include_vat else None,
        )

    def fallback_margin(self, category: str | None) -> tuple[Decimal, str] | None:
        if category is not None and category in self.category_margins:
            return self.category_margins[category], f"category margin {category}"
        if self.default_margin is not None:
            return self.default_margin, "shop default margin"
        return None


@dataclass(frozen=True, slots=True)
class LineProfit:
    """One order line's share of the profit (shop currency)."""

    line_id: str
    key: str | None
    quantity: int
    gift_card: bool
    revenue_ex_vat: Money
    vat: Money
    vat_source: str
    cogs: Money
    cost: Mapping[str, str]  # the cost row, the platform cost, the fallback or "missing"
    p_return: Decimal
    return_rule: str | None
    return_handling: Money
    restock_share: Decimal
    expected_return_cost: Money

    @property
    def cost_missing(self) -> bool:
        return self.cost.get("source") == "missing"

    def to_dict(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "key": self.key,
            "quantity": self.quantity,
            "gift_card": self.gift_card,
            "revenue_ex_vat": str(self.revenue_ex_vat.amount),
            "vat": str(self.vat.amount),
            "vat_source": self.vat_source,
            "cogs": str(self.cogs.amount),
            "cost": dict(self.cost),
            "p_return": str(self.p_return),
            "return_rule": self.return_rule,
            "return_handling": str(self.return_handling.amount),
            "restock_share": str(self.restock_share),
            "expected_return_cost": str(self.expected_return_cost.amount),
        }


COMPONENTS = (
    "revenue_ex_vat",
    "vat",
    "cogs",
    "shipping_cost",
    "payment_fee",
    "handling_cost",
    "gross_profit",
    "expected_return_cost",
    "expected_profit",
    "refunded_revenue_ex_vat",
    "recovered_cogs",
    "return_handling_cost",
    "realized_profit",
)


@dataclass(frozen=True, slots=True)
class ProfitResult:
    """Every profit component of one order in the shop currency, and where each came from."""

    order_id: str
    currency: str
    order_currency: str
    prices_include_vat: bool
    revenue_ex_vat: Money
    vat: Money
    cogs: Money
    shipping_cost: Money
    payment_fee: Money
    handling_cost: Money
    gross_profit: Money
    expected_return_cost: Money
    expected_profit: Money
    refunded_revenue_ex_vat: Money
    recovered_cogs: Money
    return_handling_cost: Money
    realized_profit: Money
    shipping_revenue: Money  # shipping charged ex VAT (in revenue only when the policy says so)
    total_paid: Money  # what the customer paid: lines and shipping incl. VAT, gift cards included
    lines: tuple[LineProfit, ...]
    sources: Mapping[str, Mapping[str, Any]]  # per component: the rule / row / basis behind it
    fx: tuple[FxUse, ...]
    fallbacks: tuple[str, ...]
    notes: tuple[str, ...]
    sendable: bool
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """The explainable breakdown, JSON-safe: amounts are decimal strings in `currency`."""
        components: dict[str, Any] = {}
        for name in COMPONENTS:
            entry: dict[str, Any] = {"amount": str(getattr(self, name).amount)}
            entry.update(self.sources.get(name, {}))
            components[name] = entry
        return {
            "order_id": self.order_id,
            "currency": self.currency,
            "order_currency": self.order_currency,
            "vat_treatment": {
                "prices_include_vat": self.prices_include_vat,
                "rule": "VAT removed from prices" if self.prices_include_vat else "VAT on top, not revenue",
            },
            "components": components,
            "shipping_revenue": str(self.shipping_revenue.amount),
            "total_paid": str(self.total_paid.amount),
            "lines": [ln.to_dict() for ln in self.lines],
            "fx": [u.to_dict() for u in self.fx],
            "fallbacks": list(self.fallbacks),
            "notes": list(self.notes),
            "sendable": self.sendable,
            "reason": self.reason,
        }


class _Converter:
    """Rates into the shop currency on the order's day, each looked up once per order."""

    __slots__ = ("day", "fx", "order_id", "rates", "to", "uses")

    def __init__(self, fx: FxTable | None, to: str, day: date, order_id: str) -> None:
        self.fx, self.to, self.day, self.order_id = fx, to, day, order_id
        self.rates: dict[str, Decimal] = {}
        self.uses: list[FxUse] = []

    def rate(self, currency: str, what: str) -> Decimal:
        if currency == self.to:
            return ONE
        hit = self.rates.get(currency)
        if hit is not None:
            return hit
        if self.fx is None:
            raise FxError(
                f"order {self.order_id}: {what} is in {currency} but the shop currency is {self.to}, "
                "and no FX table was given"
            )
        try:
            use = self.fx.rate(currency, self.to, self.day)
        except FxError as exc:
            raise FxError(f"order {self.order_id}: {what}: {exc}") from None
        self.rates[currency] = use.rate
        self.uses.append(use)
        return use.rate


def _vat_of(
    gross: Decimal, tax: Decimal, rate: Decimal | None, included: bool, default: Decimal | None, q: Decimal
) -> tuple[Decimal, str]:
    """VAT in (included) or on top of `gross`, and where the figure came from."""
    if tax != ZERO:
        return tax, "order tax"
    src = "line rate"
    if rate is None and included and default is not None:
        rate, src = default, "shop default rate"
    if rate is None:
        return ZERO, "none given"
    vat = gross * rate / (ONE + rate) if included else gross * rate
    return vat.quantize(q, rounding=ROUND_HALF_EVEN), f"{src} {rate}"


def compute_profit(
    order: Order,
    *,
    costs: CostBook,
    rules: CostRules,
    policy: ProfitPolicy,
    fx: FxTable | None = None,
    shop_currency: str | None = None,
) -> ProfitResult:
    """Price one order. Raises MissingCostError (block policy), FxError (a needed rate is missing)."""
    cur = check_currency(shop_currency) if shop_currency else order.currency
    q = Decimal(1).scaleb(-exponent(cur))
    oq = Decimal(1).scaleb(-exponent(order.currency))
    at = order.placed_at
    conv = _Converter(fx, cur, at.date(), order.order_id)
    order_rate = conv.rate(order.currency, "the order") if order.currency != cur else ONE
    incl = order.prices_include_vat

    def r(x: Decimal) -> Decimal:
        return x.quantize(q, rounding=ROUND_HALF_EVEN)

    def m(x: Decimal) -> Money:
        return Money(r(x), cur)

    notes: list[str] = []
    fallbacks: list[str] = []
    missing: list[str] = []
    paid = ZERO  # order currency

    # lines: revenue, VAT, cost, expected return
    lines: list[LineProfit] = []
    line_figures: dict[str, tuple[Decimal, Decimal, Decimal, Decimal]] = {}  # gross, rev_o, rev, cogs
    for ln in order.lines:
        gross = ln.unit_price * ln.quantity - ln.discount
        vat_o, vat_src = _vat_of(gross, ln.tax, ln.tax_rate, incl, policy.default_vat_rate, oq)
        paid += gross if incl else gross + vat_o
        if ln.gift_card:
            zero = m(ZERO)
            lines.append(
                LineProfit(ln.line_id, ln.cost_key, ln.quantity, True, zero, zero, "gift card",
                           zero, {"source": "gift card"}, ZERO, None, zero, ZERO, zero)
            )  # fmt: skip
            line_figures[ln.line_id] = (gross, ZERO, ZERO, ZERO)
            continue
        if vat_src == "none given" and incl and gross != ZERO:
            notes.append(f"line {ln.line_id}: no VAT given; the whole price counted as revenue")
        rev_o = gross - vat_o if incl else gross
        rev = r(rev_o * order_rate)
        vat = r(vat_o * order_rate)
        cogs, cost_src = _line_cost(ln, order, costs, conv, policy, rev, r, fallbacks, missing)
        rule = rules.return_rule(ln.sku, ln.category)
        if rule is None:
            p, share, handling, rule_id, exp = ZERO, ONE, ZERO, None, ZERO
        else:
            p, share, rule_id = rule.rate, rule.restock_share, rule.id
            handling = r(rule.handling_cost * conv.rate(rule.currency, f"return rule {rule.id}"))
            exp = r(p * (rev - cogs * share + handling))
        lines.append(
            LineProfit(ln.line_id, ln.cost_key, ln.quantity, False, m(rev), m(vat), vat_src, m(cogs),
                       cost_src, p, rule_id, m(handling), share, m(exp))
        )  # fmt: skip
        line_figures[ln.line_id] = (gross, rev_o, rev, cogs)

    # shipping charged
    ship_gross_o = ship_rev_o = ship_vat_o = ZERO
    for sl in order.shipping_lines:
        g = sl.price - sl.discount
        v, _ = _vat_of(g, sl.tax, sl.tax_rate, incl, policy.default_vat_rate, oq)
        ship_gross_o += g
        ship_vat_o += v
        ship_rev_o += g - v if incl else g
        paid += g if incl else g + v
    ship_rev = r(ship_rev_o * order_rate)
    ship_vat = r(ship_vat_o * order_rate)
    goods = [ln for ln in order.lines if not ln.gift_card]
    revenue = sum((ln.revenue_ex_vat.amount for ln in lines), ZERO)
    if policy.include_shipping_in_revenue:
        revenue += ship_rev
    vat_total = sum((ln.vat.amount for ln in lines), ZERO) + ship_vat
    cogs_total = sum((ln.cogs.amount for ln in lines), ZERO)
    total_paid = r(paid * order_rate)
    sources: dict[str, dict[str, Any]] = {
        "revenue_ex_vat": {
            "lines": str(revenue - (ship_rev if policy.include_shipping_in_revenue else ZERO)),
            "shipping": str(ship_rev),
            "shipping_included": policy.include_shipping_in_revenue,
            "gift_cards": "excluded",
        },
        "vat": {"lines": str(vat_total - ship_vat), "shipping": str(ship_vat)},
        "cogs": {"basis": "qty × unit cost valid at the order time, per line (see lines)"},
    }

    # shipping cost
    grams = order.total_grams
    if not order.shipping_lines and grams == 0:
        ship_cost, sources["shipping_cost"] = ZERO, {"rule": None, "basis": "nothing shipped"}
    else:
        first = order.shipping_lines[0] if order.shipping_lines else None
        method = (first.method or first.title) if first else None
        srule = rules.shipping_rule(method, order.shipping_country, grams, at)
        if srule is None:
            ship_cost = ZERO
            sources["shipping_cost"] = {"rule": None, "basis": "no shipping rule matched"}
            notes.append(f"no shipping cost rule for method {method!r}, country {order.shipping_country}")
        else:
            ship_cost = r(srule.cost * conv.rate(srule.currency, f"shipping rule {srule.id}"))
            sources["shipping_cost"] = {"rule": srule.id, "method": method, "grams": grams}

    # payment fee
    if order.actual_payment_fee is not None:
        fee = r(order.actual_payment_fee * order_rate)
        sources["payment_fee"] = {"rule": None, "basis": "actual fee recorded on the order"}
    else:
        frule = rules.payment_fee_rule(order.gateway, at)
        if frule is None:
            fee = ZERO
            sources["payment_fee"] = {"rule": None, "basis": f"no fee rule for gateway {order.gateway!r}"}
            notes.append(f"no payment fee rule for gateway {order.gateway!r}")
        else:
            fixed = frule.fixed * conv.rate(frule.currency, f"payment fee rule {frule.id}")
            fee = r(total_paid * frule.percent / HUNDRED + fixed)
            sources["payment_fee"] = {
                "rule": frule.id,
                "basis": f"{frule.percent} % of {total_paid} paid + {frule.fixed} {frule.currency}",
            }

    # handling
    handling_total = ZERO
    items: list[dict[str, str]] = []
    if goods:
        for hrule in rules.handling_rules(at):
            count = {
                HandlingPer.ORDER: 1,
                HandlingPer.LINE: len(goods),
                HandlingPer.UNIT: sum(ln.quantity for ln in goods),
            }[hrule.per]
            amount = r(hrule.cost * count * conv.rate(hrule.currency, f"handling rule {hrule.id}"))
            handling_total += amount
            items.append(
                {"rule": hrule.id, "per": hrule.per.value, "count": str(count), "amount": str(amount)}
            )
    sources["handling_cost"] = {"rules": items}

    gross_profit = revenue - cogs_total - ship_cost - fee - handling_total
    expected_return = sum((ln.expected_return_cost.amount for ln in lines), ZERO)
    sources["expected_return_cost"] = {
        "basis": "Σ lines p_return × (revenue − cogs × restock share + handling)"
    }

    # refunds
    by_id = {ln.line_id: ln for ln in lines}
    refunded = recovered = return_handling = ZERO
    refund_items: list[dict[str, str]] = []
    for refund in order.refunds:
        ref_rev = ref_cogs = ref_handling = ZERO
        for rl in refund.lines:
            ol = order.line(rl.line_id)
            if ol is None:
                raise ProfitError(
                    f"order {order.order_id}: refund {refund.refund_id} names unknown line {rl.line_id}"
                )
            if ol.gift_card or ol.quantity == 0 or rl.quantity == 0:
                continue
            if not 0 < rl.quantity <= ol.quantity:
                raise ProfitError(
                    f"order {order.order_id}: refund {refund.refund_id}, line {rl.line_id}: "
                    f"quantity {rl.quantity} is not within 1..{ol.quantity}"
                )
            gross, rev_o, rev, cogs = line_figures[ol.line_id]
            share = Decimal(rl.quantity) / Decimal(ol.quantity)
            if rl.amount is None:
                ref_rev += r(rev * share)
            else:
                if not incl:
                    ex = rl.amount
                elif rl.tax is not None:
                    ex = rl.amount - rl.tax
                else:
                    ex = rl.amount * rev_o / gross if gross else rl.amount
                ref_rev += r(ex * order_rate)
            if rl.restock_type in _RECOVERS_COST:
                ref_cogs += r(cogs * share)
            if rl.restock_type in _RETURNED:
                ref_handling += by_id[ol.line_id].return_handling.amount
        if refund.shipping and policy.include_shipping_in_revenue:
            if not incl:
                ship_ex = refund.shipping
            elif refund.shipping_tax:
                ship_ex = refund.shipping - refund.shipping_tax
            else:
                ship_ex = refund.shipping * ship_rev_o / ship_gross_o if ship_gross_o else refund.shipping
            ref_rev += r(ship_ex * order_rate)
        if refund.adjustment:
            adj = refund.adjustment - refund.adjustment_tax if incl else refund.adjustment
            ref_rev += r(adj * order_rate)
        refunded += ref_rev
        recovered += ref_cogs
        return_handling += ref_handling
        refund_items.append(
            {
                "refund_id": refund.refund_id,
                "revenue_ex_vat": str(ref_rev),
                "recovered_cogs": str(ref_cogs),
                "return_handling": str(ref_handling),
            }
        )
    sources["refunded_revenue_ex_vat"] = {"refunds": refund_items}
    sources["recovered_cogs"] = {"basis": "restock types return, cancel, legacy_restock"}
    sources["return_handling_cost"] = {"basis": "return rule handling per returned line"}
    sources["realized_profit"] = {
        "basis": "gross profit − refunded revenue + recovered cogs − return handling"
    }
    if order.refunds and refunded != ZERO and not policy.include_shipping_in_revenue:
        notes.append("shipping refunds ignored: shipping is not counted as revenue")

    if missing and policy.missing_cost == "block":
        raise MissingCostError(order.order_id, missing)
    reason = None
    if missing:
        reason = f"no unit cost for {', '.join(missing)} (policy {policy.missing_cost})"

    return ProfitResult(
        order_id=order.order_id,
        currency=cur,
        order_currency=order.currency,
        prices_include_vat=incl,
        revenue_ex_vat=m(revenue),
        vat=m(vat_total),
        cogs=m(cogs_total),
        shipping_cost=m(ship_cost),
        payment_fee=m(fee),
        handling_cost=m(handling_total),
        gross_profit=m(gross_profit),
        expected_return_cost=m(expected_return),
        expected_profit=m(gross_profit - expected_return),
        refunded_revenue_ex_vat=m(refunded),
        recovered_cogs=m(recovered),
        return_handling_cost=m(return_handling),
        realized_profit=m(gross_profit - refunded + recovered - return_handling),
        shipping_revenue=m(ship_rev),
        total_paid=m(total_paid),
        lines=tuple(lines),
        sources=sources,
        fx=tuple(conv.uses),
        fallbacks=tuple(fallbacks),
        notes=tuple(notes),
        sendable=not missing,
        reason=reason,
    )


def _line_cost(
    ln: OrderLine,
    order: Order,
    costs: CostBook,
    conv: _Converter,
    policy: ProfitPolicy,
    revenue: Decimal,
    r: Any,
    fallbacks: list[str],
    missing: list[str],
) -> tuple[Decimal, dict[str, str]]:
    """The line's cost of goods and what it came from: a cost row, the platform, a fallback, nothing."""
    at = order.placed_at
    row = costs.lookup(ln.variant_id, at) if ln.variant_id else None
    if row is None and ln.sku:
        row = costs.lookup(ln.sku, at)
    if row is not None:
        rate = conv.rate(row.currency, f"cost row {row.id}")
        src = {
            "source": "cost book",
            "row": row.id,
            "unit_cost": str(row.unit_cost),
            "currency": row.currency,
            "valid_from": row.valid_from.isoformat(),
        }
        return r(row.unit_cost * ln.quantity * rate), src
    if ln.unit_cost is not None:
        rate = conv.rate(order.currency, "the order")
        src = {
            "source": "order line (platform cost)",
            "unit_cost": str(ln.unit_cost),
            "currency": order.currency,
        }
        return r(ln.unit_cost * ln.quantity * rate), src
    label = ln.cost_key or f"line {ln.line_id}"
    if policy.missing_cost == "fallback_margin":
        found = policy.fallback_margin(ln.category)
        if found is not None:
            margin, why = found
            fallbacks.append(f"{label}: no cost; {why} {margin} used")
            return r(revenue * (ONE - margin)), {"source": "fallback", "fallback": why, "margin": str(margin)}
    missing.append(label)
    return ZERO, {"source": "missing", "policy": policy.missing_cost}
