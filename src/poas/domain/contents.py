"""The items of a Purchase (`contents`): each line's units at the price paid after its discounts, on
the same basis as the event's `value`, so the items add up to the value less what is not an item.

Order-level discounts are already on the lines when an order reaches the domain: every source
allocates them (Shopify's `discount_allocations`, WooCommerce's subtotal − total and negative fees,
the Shopify CSV's order discount spread by line amount), and `OrderLine.discount` holds the line's
own discount plus its share. Per `events.value_basis`:

- `total` (what the customer paid) and `subtotal`: a line counts what was paid for it after its
  discounts, VAT included (added when prices exclude it);
- `revenue_ex_vat`: the line's revenue ex VAT from the profit breakdown;
- `profit`: the value is no sum of items; they carry the price paid, as for `total`.

Shipping is not an item, nor are gift cards (they are not the shop's goods) or lines without units.
Σ quantity × item_price equals the value less shipping and gift cards (to the minor unit; for the
subtotal basis less gift cards only): the target is split over the lines by their exact amounts
with the largest remainder to the minor unit (ties to the earlier line), and a line whose amount
does not divide by its quantity is given as two entries with the same id: the remainder's units at
one minor unit more than the others.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, NamedTuple

from poas.domain.money import exponent
from poas.domain.order import Order, OrderLine

if TYPE_CHECKING:
    from poas.domain.profit import ProfitResult

ZERO = Decimal(0)
ONE = Decimal(1)


class Item(NamedTuple):
    """One `contents` entry: `item_price` in the event currency, on its minor unit."""

    id: str
    quantity: int
    item_price: Decimal


def _paid(ln: OrderLine, inclusive: bool) -> Decimal:
    """Paid for a line after its discounts, VAT included, order currency (the subtotal basis)."""
    gross = ln.unit_price * ln.quantity - ln.discount
    return gross if inclusive else gross + ln.tax


def _targets(
    order: Order, profit: ProfitResult, basis: str, rate: Decimal, q: Decimal
) -> tuple[list[OrderLine], list[Decimal], Decimal]:
    """The item lines, their exact amounts (event currency) and the sum they must make."""
    goods: list[OrderLine] = []
    weights: list[Decimal] = []
    gift = False
    if basis == "subtotal":
        inclusive = order.prices_include_vat
        subtotal = gifts = ZERO
        for ln in order.lines:
            paid = _paid(ln, inclusive)
            subtotal += paid
            if ln.gift_card:
                gifts += paid
            elif ln.quantity > 0:
                goods.append(ln)
                weights.append(paid if rate is ONE else paid * rate)
        return goods, weights, _round(subtotal * rate, q) - _round(gifts * rate, q)
    ex_vat = basis == "revenue_ex_vat"
    lines_vat = ZERO
    for ln, lp in zip(order.lines, profit.lines, strict=True):
        vat = lp.vat.amount
        lines_vat += vat
        if ln.gift_card:
            gift = True
        elif ln.quantity > 0:
            goods.append(ln)
            # total and profit: the price paid as the profit calculation counted it (incl. VAT)
            weights.append(lp.revenue_ex_vat.amount if ex_vat else lp.revenue_ex_vat.amount + vat)
    if basis != "total":  # revenue_ex_vat: the lines' own revenue; profit: no sum to make
        return goods, weights, sum(weights, ZERO)
    shipping_paid = profit.shipping_revenue.amount + profit.vat.amount - lines_vat
    target = profit.total_paid.amount - shipping_paid
    if gift:
        inclusive = order.prices_include_vat
        target -= _round(sum((_paid(ln, inclusive) for ln in order.lines if ln.gift_card), ZERO) * rate, q)
    return goods, weights, target


_UNITS: dict[str, tuple[int, Decimal]] = {}


def _unit(currency: str) -> tuple[int, Decimal]:
    """The currency's exponent and minor unit (NOK: 2, 0.01), looked up once."""
    hit = _UNITS.get(currency)
    if hit is None:
        e = exponent(currency)
        hit = _UNITS[currency] = (e, Decimal(1).scaleb(-e))
    return hit


def _round(x: Decimal, q: Decimal) -> Decimal:
    return x.quantize(q, rounding=ROUND_HALF_EVEN)


def _split(target: int, weights: list[Decimal]) -> list[int]:
    """`target` minor units over `weights` (major units): floors, then the largest remainders get
    one more each (ties to the earlier line)."""
    if not weights:
        return []
    whole = sum(weights, ZERO)
    if whole == 0:
        weights, whole = [ONE] * len(weights), Decimal(len(weights))
    exact = [Decimal(target) * w / whole for w in weights]
    parts = [int(x.to_integral_value(rounding=ROUND_FLOOR)) for x in exact]
    left = target - sum(parts)  # 0 <= left < len(parts): the floors' remainders add up to it
    order = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    step = 1 if left >= 0 else -1
    for k in range(abs(left)):  # only a last-digit slip of the division could make it step down
        parts[order[k % len(parts)] if step > 0 else order[-1 - k % len(parts)]] += step
    return parts


def item_minors(
    order: Order, profit: ProfitResult, basis: str, rate: Decimal
) -> tuple[list[tuple[str, int, int]], int]:
    """The `contents` as (id, quantity, item_price in minor units) and the currency's exponent."""
    e, q = _unit(profit.currency)
    goods, weights, target = _targets(order, profit, basis, rate, q)
    total = sum(weights, ZERO)
    minors: list[int] | None = None
    if total == target:  # the usual case: every amount already on the minor unit, nothing to share
        scaled = [w.scaleb(e) for w in weights]
        minors = [int(m) for m in scaled]
        if minors != scaled:  # an amount between two minor units: share the target instead
            minors = None
    if minors is None:
        minors = _split(int(_round(target, q).scaleb(e)), weights)
    out: list[tuple[str, int, int]] = []
    for ln, minor in zip(goods, minors, strict=True):
        ident = ln.variant_id or ln.sku or ln.product_id or ln.line_id
        qty = ln.quantity
        base, extra = divmod(minor, qty)
        if extra:
            if qty - extra:
                out.append((ident, qty - extra, base))
            out.append((ident, extra, base + 1))
        else:
            out.append((ident, qty, base))
    return out, e


def items(order: Order, profit: ProfitResult, basis: str, rate: Decimal) -> list[Item]:
    """The `contents` of the order's Purchase in `profit.currency` (`rate`: order → that currency)."""
    found, e = item_minors(order, profit, basis, rate)
    return [Item(ident, qty, Decimal(minor).scaleb(-e)) for ident, qty, minor in found]
