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

from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from poas.domain.money import exponent
from poas.domain.order import Order, OrderLine

if TYPE_CHECKING:
    from poas.domain.profit import LineProfit, ProfitResult

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Item:
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
) -> tuple[list[tuple[OrderLine, Decimal]], Decimal]:
    """The item lines with their exact amounts (event currency) and the sum they must make."""
    pairs: list[tuple[OrderLine, LineProfit]] = list(zip(order.lines, profit.lines, strict=True))
    goods = [(ln, lp) for ln, lp in pairs if not ln.gift_card and ln.quantity > 0]
    if basis == "revenue_ex_vat":
        weighted = [(ln, lp.revenue_ex_vat.amount) for ln, lp in goods]
        return weighted, sum((w for _, w in weighted), ZERO)
    if basis == "subtotal":
        inclusive = order.prices_include_vat
        weighted = [(ln, _paid(ln, inclusive) * rate) for ln, _ in goods]
        subtotal = sum((_paid(ln, inclusive) for ln in order.lines), ZERO) * rate
        gifts = sum((_paid(ln, inclusive) for ln in order.lines if ln.gift_card), ZERO) * rate
        return weighted, _round(subtotal, q) - _round(gifts, q)
    # total and profit: the price paid as the profit calculation counted it (lines incl. VAT)
    weighted = [(ln, lp.revenue_ex_vat.amount + lp.vat.amount) for ln, lp in goods]
    if basis != "total":
        return weighted, sum((w for _, w in weighted), ZERO)
    lines_vat = sum((lp.vat.amount for lp in profit.lines), ZERO)
    shipping_paid = profit.shipping_revenue.amount + profit.vat.amount - lines_vat
    gifts = sum((_paid(ln, order.prices_include_vat) for ln in order.lines if ln.gift_card), ZERO)
    return weighted, profit.total_paid.amount - shipping_paid - _round(gifts * rate, q)


def _round(x: Decimal, q: Decimal) -> Decimal:
    return x.quantize(q, rounding=ROUND_HALF_EVEN)


def _split(target: int, weights: list[Decimal]) -> list[int]:
    """`target` minor units over `weights`: floors, then the largest remainders get one more each
    (ties to the earlier line). Weights already adding up to the target come back unchanged."""
    whole = sum(weights, ZERO)
    if not weights:
        return []
    if whole == 0:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    exact = [Decimal(target) * w / whole for w in weights]
    parts = [int(x.to_integral_value(rounding=ROUND_FLOOR)) for x in exact]
    left = target - sum(parts)  # 0 <= left < len(parts): the floors' remainders add up to it
    order = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
    step = 1 if left >= 0 else -1
    for k in range(abs(left)):  # only a last-digit slip of the division could make it step down
        parts[order[k % len(parts)] if step > 0 else order[-1 - k % len(parts)]] += step
    return parts


def items(order: Order, profit: ProfitResult, basis: str, rate: Decimal) -> list[Item]:
    """The `contents` of the order's Purchase in `profit.currency` (`rate`: order → that currency)."""
    e = exponent(profit.currency)
    q = Decimal(1).scaleb(-e)
    weighted, target = _targets(order, profit, basis, rate, q)
    minors = _split(int(_round(target, q).scaleb(e)), [w for _, w in weighted])
    out: list[Item] = []
    for (ln, _), minor in zip(weighted, minors, strict=True):
        ident = ln.variant_id or ln.sku or ln.product_id or ln.line_id
        base, extra = divmod(minor, ln.quantity)
        if ln.quantity - extra:
            out.append(Item(ident, ln.quantity - extra, Decimal(base).scaleb(-e)))
        if extra:
            out.append(Item(ident, extra, Decimal(base + 1).scaleb(-e)))
    return out
