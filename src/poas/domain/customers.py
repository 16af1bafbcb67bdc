"""Customer identity and each order's place in its customer's history (pure; docs/metrics.md).

A customer is known per shop by one key taken from the order's hashed user_data (never raw contact
data): the platform's customer id (`external_id`), else the e-mail (`em`), else the phone (`ph`),
as `id:<hash>`, `em:<hash>`, `ph:<hash>`. An order with none of them (a guest checkout without
e-mail or phone) has no customer and is neither new nor returning ("unknown").

An order counts as a customer order when it is no test, not cancelled (nor voided) and paid:
captured (paid, partially paid, partially or fully refunded) or authorized (a payment guaranteed
and captured at shipping, as Klarna does). A customer's counted orders, oldest first (by
`created_at`, then order id), are numbered 1, 2, …: number 1 is "new", the rest "returning". So a
cancelled or unpaid first order does not make the next one returning, and a refunded first order
stays the first (the customer was acquired). Orders that do not count have no number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from poas.domain.order import CAPTURED_STATUSES

PAID_STATUSES = CAPTURED_STATUSES | {"authorized"}
KEY_FIELDS = (("external_id", "id"), ("em", "em"), ("ph", "ph"))  # user_data field, key prefix; first wins

CustomerType = Literal["new", "returning", "unknown"]


def customer_key(user_data: Mapping[str, Any] | None) -> str | None:
    """The order's customer key from its hashed user_data, or None (no id, e-mail or phone)."""
    if not user_data:
        return None
    for field, prefix in KEY_FIELDS:
        value = user_data.get(field)
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, str) and v), None)
        if isinstance(value, str) and value:
            return f"{prefix}:{value}"
    return None


def counts(*, test: bool, cancelled_at: datetime | None, financial_status: str) -> bool:
    """Whether an order counts as one of its customer's orders (see the module docstring)."""
    return not test and cancelled_at is None and financial_status.lower() in PAID_STATUSES


def customer_type(customer_key: str | None, seq: int | None) -> CustomerType:
    if customer_key is None or seq is None:
        return "unknown"
    return "new" if seq == 1 else "returning"


@dataclass(frozen=True, slots=True)
class Placed:
    order_id: str
    placed_at: datetime
    counts: bool


def number_orders(orders: Sequence[Placed]) -> dict[str, int | None]:
    """Each order's number among one customer's counted orders (1 = new); None when it does not count."""
    out: dict[str, int | None] = {o.order_id: None for o in orders}
    counted = sorted((o for o in orders if o.counts), key=lambda o: (o.placed_at, o.order_id))
    for i, o in enumerate(counted, start=1):
        out[o.order_id] = i
    return out
