"""The profit calculator: one order's revenue ex VAT, costs and profit, with an explainable breakdown.

Definitions (ARCHITECTURE.md "Profit definitions"), all in the shop currency, each component
rounded half-even to the minor unit per line, so the components add up to the profit exactly:

    revenue_ex_vat  = Σ non-gift-card lines (unit price × qty − discount − VAT) [+ shipping ex VAT]
    gross_profit    = revenue_ex_vat − cogs − shipping_cost − payment_fee − handling_cost
    expected_profit = gross_profit − Σ lines p_return × (revenue − cogs × restock share + return handling)
    realized_profit = gross_profit − refunded revenue ex VAT + cost of restocked goods − return handling
                      − cancellation

A cancelled or voided order (`Order.cancelled`) realizes only what really happened: without a refund
its revenue is not earned and its goods are restocked; unless a refund line says goods came back,
nothing was shipped or packed, so shipping and handling costs are not incurred; and a payment that
captured nothing (voided, pending, authorized) was charged no fee. `cancellation` is what that takes
off gross profit (a cancelled, refunded order leaves revenue and goods to its refunds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

from poas.domain.costs import CostBook, CostRow
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


class SharedSource(dict[str, Any]):
    """A source that every order (or many) shares: one read-only object (the stored breakdown packs a
    shared source once, `poas.store.breakdown_pack`). Pickles and copies like a dict, never changes."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a shared profit source is read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = __ior__ = _read_only

    def __reduce__(self) -> tuple[type[SharedSource], tuple[dict[str, Any]]]:
        return (type(self), (dict(self),))

    def __copy__(self) -> SharedSource:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedSource:
        return self


_FIXED_SOURCES: Mapping[str, Mapping[str, Any]] = {
    "cogs": SharedSource({"basis": "qty × unit cost valid at the order time, per line (see lines)"}),
    "expected_return_cost": SharedSource(
        {"basis": "Σ lines p_return × (revenue − cogs × restock share + handling)"}
    ),
    "recovered_cogs": SharedSource({"basis": "restock types return, cancel, legacy_restock"}),
    "return_handling_cost": SharedSource(
        {"basis": "return handling per returned line (restock type return)"}
    ),
    "realized_profit": SharedSource(
        {"basis": "gross profit − refunded revenue + recovered cogs − return handling − cancellation"}
    ),
}
_NOTHING_SHIPPED = SharedSource({"rule": None, "basis": "nothing shipped"})
_NO_SHIPPING_RULE = SharedSource({"rule": None, "basis": "no shipping rule matched"})
_ACTUAL_FEE = SharedSource({"rule": None, "basis": "actual fee recorded on the order"})
_NOT_CANCELLED = SharedSource({"basis": "not cancelled"})


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
    "cancellation",
    "realized_profit",
)
# What a missing cost (no fallback margin) leaves unknown: shown as null, never as 0 or as revenue.
COST_DEPENDENT = ("cogs", "gross_profit", "expected_return_cost", "expected_profit", "realized_profit")


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
    cancellation: Money  # what a cancellation or void takes off gross profit (0 when not cancelled)
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

    @property
    def missing_cost_lines(self) -> int:
        """Lines priced with no cost and no fallback margin: while any, the profit is unknown."""
        return sum(1 for ln in self.lines if ln.cost_missing)

    @property
    def profit_known(self) -> bool:
        """False when a cost is missing with no fallback: never count this profit (it is not revenue)."""
        return self.missing_cost_lines == 0

    def vat_treatment(self) -> dict[str, Any]:
        return {
            "prices_include_vat": self.prices_include_vat,
            "rule": "VAT removed from prices" if self.prices_include_vat else "VAT on top, not revenue",
        }

    def component(self, name: str) -> dict[str, Any]:
        """A component's breakdown entry: its amount and its sources."""
        entry: dict[str, Any] = {"amount": str(getattr(self, name).amount)}
        entry.update(self.sources.get(name, {}))
        return entry

    def to_dict(self) -> dict[str, Any]:
        """The explainable breakdown, JSON-safe: amounts are decimal strings in `currency` (stored
        packed: `poas.store.breakdown_pack`)."""
        components = {name: self.component(name) for name in COMPONENTS}
        return {
            "order_id": self.order_id,
            "currency": self.currency,
            "order_currency": self.order_currency,
            "vat_treatment": self.vat_treatment(),
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


_CITED: dict[int, tuple[CostRow, dict[str, str]]] = {}


def _cited(row: CostRow) -> dict[str, str]:
    """How the breakdown cites a cost row. Built once per row object (an import prices millions of
    lines from the same few thousand rows; the timestamp texts were a tenth of the pricing time)."""
    hit = _CITED.get(id(row))
    if hit is not None and hit[0] is row:
        return hit[1]
    cited = {
        "source": "cost book",
        "row": row.id,
        "unit_cost": str(row.unit_cost),
        "currency": row.currency,
        "valid_from": row.valid_from.isoformat(),
    }
    if len(_CITED) >= 500_000:
        _CITED.clear()
    _CITED[id(row)] = (row, cited)  # the row is kept, so its id cannot be reused while cached
    return cited


_QUANTA: dict[str, Decimal] = {}


def _quantum(currency: str) -> Decimal:
    """The currency's minor unit as a Decimal exponent (NOK 0.01, JPY 1)."""
    q = _QUANTA.get(currency)
    if q is None:
        q = _QUANTA[currency] = Decimal(1).scaleb(-exponent(currency))
    return q


_ZERO_MONEY: dict[str, Money] = {}


def _zero_money(currency: str, q: Decimal) -> Money:
    """Zero rounded to the currency's minor unit (0.00 NOK), one shared value per currency."""
    m = _ZERO_MONEY.get(currency)
    if m is None:
        m = _ZERO_MONEY[currency] = Money(ZERO.quantize(q, rounding=ROUND_HALF_EVEN), currency)
    return m


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


class LearnedRate(Protocol):
    @property
    def rate(self) -> Decimal: ...

    @property
    def source(self) -> str: ...


class ReturnRates(Protocol):
    """Learned return rates (e.g. `poas.domain.returns.ReturnRateModel`)."""

    def rate(self, sku: str | None, category: str | None) -> LearnedRate: ...


class _LineFigures(NamedTuple):
    gross_o: Decimal  # after discount, on the order's VAT basis, order currency
    revenue_o: Decimal  # ex VAT, order currency
    revenue: Decimal  # ex VAT, shop currency, rounded
    cogs: Decimal
    return_handling: Decimal


class _Pricer:
    """One order's pricing run: rounding, currency conversion, and what it notes on the way."""

    def __init__(
        self,
        order: Order,
        costs: CostBook,
        rules: CostRules,
        policy: ProfitPolicy,
        fx: FxTable | None,
        shop_currency: str | None,
        return_rates: ReturnRates | None,
    ) -> None:
        self.order, self.costs, self.rules, self.policy = order, costs, rules, policy
        self.return_rates = return_rates
        self.cur = check_currency(shop_currency) if shop_currency else order.currency
        self.q = _quantum(self.cur)
        self.oq = _quantum(order.currency)
        self.at = order.placed_at
        self.incl = order.prices_include_vat
        self.conv = _Converter(fx, self.cur, self.at.astimezone(UTC).date(), order.order_id)
        self.order_rate = self.conv.rate(order.currency, "the order")
        self.notes: list[str] = []
        self.fallbacks: list[str] = []
        self.missing: list[str] = []
        self.sources: dict[str, Mapping[str, Any]] = {}
        self.figures: dict[str, _LineFigures] = {}

    def r(self, x: Decimal) -> Decimal:
        return x.quantize(self.q, rounding=ROUND_HALF_EVEN)

    def money(self, x: Decimal) -> Money:
        if x is ZERO:  # the untouched ZERO constant: most costs of most orders (Money is immutable)
            return _zero_money(self.cur, self.q)
        return Money(x.quantize(self.q, rounding=ROUND_HALF_EVEN), self.cur)

    def vat(self, gross: Decimal, tax: Decimal, rate: Decimal | None) -> tuple[Decimal, str]:
        return _vat_of(gross, tax, rate, self.incl, self.policy.default_vat_rate, self.oq)

    def lines(self) -> tuple[list[LineProfit], Decimal]:
        """Each line's revenue, VAT, cost and expected return; and what was paid for the lines."""
        out: list[LineProfit] = []
        paid = ZERO
        zero = self.money(ZERO)
        for ln in self.order.lines:
            gross = ln.unit_price * ln.quantity - ln.discount
            vat_o, vat_src = self.vat(gross, ln.tax, ln.tax_rate)
            paid += gross if self.incl else gross + vat_o
            if ln.gift_card:
                out.append(
                    LineProfit(ln.line_id, ln.cost_key, ln.quantity, True, zero, zero, "gift card",
                               zero, {"source": "gift card"}, ZERO, None, zero, ZERO, zero)
                )  # fmt: skip
                self.figures[ln.line_id] = _LineFigures(gross, ZERO, ZERO, ZERO, ZERO)
                continue
            if vat_src == "none given" and self.incl and gross != ZERO:
                self.notes.append(f"line {ln.line_id}: no VAT given; the whole price counted as revenue")
            rev_o = gross - vat_o if self.incl else gross
            rev = self.r(rev_o * self.order_rate)
            cogs, cost_src = self.line_cost(ln, rev)
            p, share, handling, rule_id = self.return_expectation(ln)
            exp = self.r(p * (rev - cogs * share + handling))
            out.append(  # rev and exp are rounded already
                LineProfit(ln.line_id, ln.cost_key, ln.quantity, False, Money(rev, self.cur),
                           self.money(vat_o * self.order_rate), vat_src, self.money(cogs), cost_src, p,
                           rule_id, self.money(handling), share, Money(exp, self.cur))
            )  # fmt: skip
            self.figures[ln.line_id] = _LineFigures(gross, rev_o, rev, cogs, handling)
        return out, paid

    def category(self, ln: OrderLine) -> str | None:
        """The line's own category, else the one the shop's catalogue states for its variant / SKU."""
        return ln.category or self.costs.category(ln.variant_id, ln.sku)

    def line_cost(self, ln: OrderLine, revenue: Decimal) -> tuple[Decimal, dict[str, str]]:
        """Cost of goods and its origin: a cost row, the platform's cost, a fallback margin, or none."""
        row = self.costs.lookup(ln.variant_id, self.at) if ln.variant_id else None
        if row is None and ln.sku:
            row = self.costs.lookup(ln.sku, self.at)
        if row is not None:
            cited = _cited(row)
            rate = self.conv.rate(row.currency, f"cost row {cited['row']}")
            if row.first_sync_backdated and (row.seen_at is None or self.at < row.seen_at):
                self.notes.append(
                    f"{ln.cost_key or 'line ' + ln.line_id}: priced with today's cost as poas sync first "
                    f"saw it ({row.unit_cost} {row.currency}, {row.source}); its cost at the order's time "
                    "is not known"
                )
            return self.r(row.unit_cost * ln.quantity * rate), dict(cited)
        if ln.unit_cost is not None:
            src = {
                "source": "order line (platform cost)",
                "unit_cost": str(ln.unit_cost),
                "currency": self.order.currency,
            }
            return self.r(ln.unit_cost * ln.quantity * self.order_rate), src
        label = ln.cost_key or f"line {ln.line_id}"
        if self.policy.missing_cost == "fallback_margin":
            category = self.category(ln)
            found = self.policy.fallback_margin(category)
            if found is not None:
                margin, why = found
                self.fallbacks.append(f"{label}: no cost; {why} {margin} used")
                src = {"source": "fallback", "fallback": why, "margin": str(margin)}
                if category is not None and ln.category is None:
                    src["category_from"] = "shop catalogue (poas sync)"
                return self.r(revenue * (ONE - margin)), src
        self.missing.append(label)
        return ZERO, {"source": "missing", "policy": self.policy.missing_cost}

    def return_expectation(self, ln: OrderLine) -> tuple[Decimal, Decimal, Decimal, str | None]:
        """(p_return, restock share, return handling cost, rule id). A configured SKU or category rule
        wins over a learned rate, which wins over the configured shop default."""
        category = self.category(ln)
        rule = self.rules.return_rule(ln.sku, category)
        specific = rule is not None and (rule.sku is not None or rule.category is not None)
        base = self.rules.returns_default
        if self.return_rates is not None and not specific:
            learned = self.return_rates.rate(ln.sku, category)
            handling = ZERO
            if base is not None:
                handling = self.r(
                    base.handling_cost * self.conv.rate(base.currency, f"return rule {base.id}")
                )
            share = base.restock_share if base is not None else ONE
            return learned.rate, share, handling, f"learned:{learned.source}"
        if rule is None:
            return ZERO, ONE, ZERO, None
        handling = self.r(rule.handling_cost * self.conv.rate(rule.currency, f"return rule {rule.id}"))
        return rule.rate, rule.restock_share, handling, rule.id

    def shipping_charged(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """Shipping charged: (gross, ex VAT, VAT, paid), order currency."""
        gross = rev = vat = paid = ZERO
        for sl in self.order.shipping_lines:
            g = sl.price - sl.discount
            v, _ = self.vat(g, sl.tax, sl.tax_rate)
            gross, vat = gross + g, vat + v
            rev += g - v if self.incl else g
            paid += g if self.incl else g + v
        return gross, rev, vat, paid

    def shipping_cost(self) -> Decimal:
        order = self.order
        grams = order.total_grams
        if not order.shipping_lines and grams == 0:
            self.sources["shipping_cost"] = _NOTHING_SHIPPED
            return ZERO
        first = order.shipping_lines[0] if order.shipping_lines else None
        method = (first.method or first.title) if first else None
        rule = self.rules.shipping_rule(method, order.shipping_country, grams, self.at)
        if rule is None:
            self.sources["shipping_cost"] = _NO_SHIPPING_RULE
            self.notes.append(
                f"no shipping cost rule for method {method!r}, country {order.shipping_country}"
            )
            return ZERO
        self.sources["shipping_cost"] = {"rule": rule.id, "method": method, "grams": grams}
        return self.r(rule.cost * self.conv.rate(rule.currency, f"shipping rule {rule.id}"))

    def payment_fee(self, total_paid: Decimal) -> Decimal:
        order = self.order
        if order.actual_payment_fee is not None:
            self.sources["payment_fee"] = _ACTUAL_FEE
            return self.r(order.actual_payment_fee * self.order_rate)
        rule = self.rules.payment_fee_rule(order.gateway, self.at)
        if rule is None:
            self.sources["payment_fee"] = {
                "rule": None,
                "basis": f"no fee rule for gateway {order.gateway!r}",
            }
            self.notes.append(f"no payment fee rule for gateway {order.gateway!r}")
            return ZERO
        fixed = rule.fixed * self.conv.rate(rule.currency, f"payment fee rule {rule.id}")
        self.sources["payment_fee"] = {
            "rule": rule.id,
            "basis": f"{rule.percent} % of {total_paid} paid + {rule.fixed} {rule.currency}",
        }
        return self.r(total_paid * rule.percent / HUNDRED + fixed)

    def handling(self) -> Decimal:
        """Every active handling rule, per order / line / unit of goods (gift cards are not picked)."""
        goods = [ln for ln in self.order.lines if not ln.gift_card]
        total = ZERO
        items: list[dict[str, str]] = []
        for rule in self.rules.handling_rules(self.at) if goods else ():
            count = {
                HandlingPer.ORDER: 1,
                HandlingPer.LINE: len(goods),
                HandlingPer.UNIT: sum(ln.quantity for ln in goods),
            }[rule.per]
            amount = self.r(rule.cost * count * self.conv.rate(rule.currency, f"handling rule {rule.id}"))
            total += amount
            items.append({"rule": rule.id, "per": rule.per.value, "count": str(count), "amount": str(amount)})
        self.sources["handling_cost"] = {"rules": items}
        return total

    def refunds(self, ship_gross_o: Decimal, ship_rev_o: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """(refunded revenue ex VAT, cost of restocked goods, return handling), shop currency."""
        order, incl = self.order, self.incl
        refunded = recovered = handling = ZERO
        items: list[dict[str, str]] = []
        for refund in order.refunds:
            rev = cogs = hand = ZERO
            for rl in refund.lines:
                ol = order.line(rl.line_id)
                where = f"order {order.order_id}: refund {refund.refund_id}"
                if ol is None:
                    raise ProfitError(f"{where} names unknown line {rl.line_id}")
                if ol.gift_card or rl.quantity == 0:
                    continue
                if not 0 < rl.quantity <= ol.quantity:
                    raise ProfitError(
                        f"{where}, line {rl.line_id}: quantity {rl.quantity} is not within 1..{ol.quantity}"
                    )
                fig = self.figures[ol.line_id]
                share = Decimal(rl.quantity) / Decimal(ol.quantity)
                if rl.amount is None:
                    rev += self.r(fig.revenue * share)
                else:
                    if not incl:
                        ex = rl.amount
                    elif rl.tax is not None:
                        ex = rl.amount - rl.tax
                    else:
                        ex = rl.amount * fig.revenue_o / fig.gross_o if fig.gross_o else rl.amount
                    rev += self.r(ex * self.order_rate)
                if rl.restock_type in _RECOVERS_COST:
                    cogs += self.r(fig.cogs * share)
                if rl.restock_type in _RETURNED:
                    hand += fig.return_handling
            if refund.shipping and self.policy.include_shipping_in_revenue:
                if not incl:
                    ship_ex = refund.shipping
                elif refund.shipping_tax:
                    ship_ex = refund.shipping - refund.shipping_tax
                else:
                    ship_ex = refund.shipping * ship_rev_o / ship_gross_o if ship_gross_o else refund.shipping
                rev += self.r(ship_ex * self.order_rate)
            elif refund.shipping:
                self.notes.append(
                    f"refund {refund.refund_id}: shipping refund ignored (shipping is not revenue)"
                )
            if refund.adjustment:
                adj = refund.adjustment - refund.adjustment_tax if incl else refund.adjustment
                rev += self.r(adj * self.order_rate)
            refunded, recovered, handling = refunded + rev, recovered + cogs, handling + hand
            items.append(
                {
                    "refund_id": refund.refund_id,
                    "revenue_ex_vat": str(rev),
                    "recovered_cogs": str(cogs),
                    "return_handling": str(hand),
                }
            )
        self.sources["refunded_revenue_ex_vat"] = {"refunds": items}
        return refunded, recovered, handling

    def cancellation(self, revenue: Decimal, cogs: Decimal, costs: Mapping[str, Decimal]) -> Decimal:
        """What a cancellation or void takes off gross profit: what never happened (module docstring)."""
        order = self.order
        if not order.cancelled:
            self.sources["cancellation"] = _NOT_CANCELLED
            return ZERO
        why = "voided" if order.cancelled_at is None else "cancelled"
        parts: dict[str, Decimal] = {}
        if not order.refunds:
            parts["revenue_ex_vat"] = revenue  # not earned
            parts["cogs"] = -cogs  # goods restocked
        returned = any(rl.restock_type in _RETURNED for r in order.refunds for rl in r.lines)
        if not returned:  # nothing came back, so nothing had left: not shipped, not packed
            parts["shipping_cost"] = -costs["shipping_cost"]
            parts["handling_cost"] = -costs["handling_cost"]
        if not order.payment_captured and order.actual_payment_fee is None:
            parts["payment_fee"] = -costs["payment_fee"]  # a void captures nothing, no fee is charged
        how = ", refunds carry revenue and goods" if order.refunds else ", no refund"
        source: dict[str, Any] = {"basis": f"order {why}{how}", "financial_status": order.financial_status}
        source.update({f"not_realized_{k}": str(v) for k, v in parts.items() if v})
        self.sources["cancellation"] = source
        self.notes.append(
            f"order {why} ({order.financial_status}): profit realized only for costs really incurred"
        )
        return sum(parts.values(), ZERO)


def compute_profit(
    order: Order,
    *,
    costs: CostBook,
    rules: CostRules,
    policy: ProfitPolicy,
    fx: FxTable | None = None,
    shop_currency: str | None = None,
    return_rates: ReturnRates | None = None,
) -> ProfitResult:
    """Price one order in `shop_currency` (default: the order's).

    Raises MissingCostError (policy block), FxError (a needed rate is missing), ProfitError (a
    refund naming an unknown line or too many units).
    """
    pr = _Pricer(order, costs, rules, policy, fx, shop_currency, return_rates)
    lines, paid_lines = pr.lines()
    ship_gross_o, ship_rev_o, ship_vat_o, paid_ship = pr.shipping_charged()
    ship_rev, ship_vat = pr.r(ship_rev_o * pr.order_rate), pr.r(ship_vat_o * pr.order_rate)
    lines_rev = sum((ln.revenue_ex_vat.amount for ln in lines), ZERO)
    lines_vat = sum((ln.vat.amount for ln in lines), ZERO)
    revenue = lines_rev + (ship_rev if policy.include_shipping_in_revenue else ZERO)
    cogs = sum((ln.cogs.amount for ln in lines), ZERO)
    total_paid = pr.r((paid_lines + paid_ship) * pr.order_rate)
    shipping_cost = pr.shipping_cost()
    fee = pr.payment_fee(total_paid)
    handling = pr.handling()
    gross_profit = revenue - cogs - shipping_cost - fee - handling
    expected_return = sum((ln.expected_return_cost.amount for ln in lines), ZERO)
    refunded, recovered, return_handling = pr.refunds(ship_gross_o, ship_rev_o)
    costs_incurred = {"shipping_cost": shipping_cost, "payment_fee": fee, "handling_cost": handling}
    cancelled = pr.cancellation(revenue, cogs, costs_incurred)

    if pr.missing and policy.missing_cost == "block":
        raise MissingCostError(order.order_id, pr.missing)
    pr.sources.update(
        {
            "revenue_ex_vat": {
                "lines": str(lines_rev),
                "shipping": str(ship_rev),
                "shipping_included": policy.include_shipping_in_revenue,
                "gift_cards": "excluded",
            },
            "vat": {"lines": str(lines_vat), "shipping": str(ship_vat)},
            **_FIXED_SOURCES,
        }
    )
    m = pr.money
    return ProfitResult(
        order_id=order.order_id,
        currency=pr.cur,
        order_currency=order.currency,
        prices_include_vat=pr.incl,
        revenue_ex_vat=m(revenue),
        vat=m(lines_vat + ship_vat),
        cogs=m(cogs),
        shipping_cost=m(shipping_cost),
        payment_fee=m(fee),
        handling_cost=m(handling),
        gross_profit=m(gross_profit),
        expected_return_cost=m(expected_return),
        expected_profit=m(gross_profit - expected_return),
        refunded_revenue_ex_vat=m(refunded),
        recovered_cogs=m(recovered),
        return_handling_cost=m(return_handling),
        cancellation=m(cancelled),
        realized_profit=m(gross_profit - refunded + recovered - return_handling - cancelled),
        shipping_revenue=m(ship_rev),
        total_paid=m(total_paid),
        lines=tuple(lines),
        sources=pr.sources,
        fx=tuple(pr.conv.uses),
        fallbacks=tuple(pr.fallbacks),
        notes=tuple(pr.notes),
        sendable=not pr.missing,
        reason=f"no unit cost for {', '.join(pr.missing)} (policy {policy.missing_cost})"
        if pr.missing
        else None,
    )
