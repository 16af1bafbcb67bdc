"""What an inbox row's note says about a processed delivery, and the order facts kept across versions.

Every note says what happened, never what did not: whether the order was stored, whether a Purchase
was queued (and its event_id), and if not, why — this delivery is not the shop's purchase trigger,
the order is not paid yet, or the reason `queue_purchase_events` gave (no pixel, no ads consent,
profit not sendable, …) — or that it was queued earlier. A stale delivery says which version was
kept and what it added. The inbox keeps 200 characters; notes hold no personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

from poas.domain.order import Order
from poas.services.google_events import google_note
from poas.services.ingest import IngestOutcome
from poas.settings import ShopConfig

# Facts an older version of an order may carry that a newer one must not lose: a Shopify order
# cannot be un-cancelled, and WooCommerce never clears the date an order was paid.
STICKY_FACTS: dict[str, tuple[tuple[str, str], ...]] = {
    "shopify": (("cancelled_at", "cancellation"), ("cancel_reason", "cancel reason")),
    "woocommerce": (("date_paid_gmt", "payment date"), ("date_paid", "payment date")),
}
_WOO_UNPAID = ("pending", "on-hold", "checkout-draft")


def carry_facts(source: str, into: MutableMapping[str, Any], other: Mapping[str, Any] | None) -> list[str]:
    """Copy the sticky facts `other` (another version of the order's payload) has and `into` lacks;
    returns what was added, in words."""
    added: list[str] = []
    if other is None:
        return added
    for key, name in STICKY_FACTS.get(source, ()):
        if other.get(key) not in (None, "") and into.get(key) in (None, ""):
            into[key] = other[key]
            if name not in added:
                added.append(name)
    return added


def when(value: datetime | None) -> str:
    return "unknown" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def why_no_purchase(
    source: str, topic: str, order: Order, data: Mapping[str, Any] | None, shop: ShopConfig
) -> str:
    """Why a delivery that is not the purchase trigger queues no Purchase (see `parse_delivery`)."""
    paid_topic = shop.events.purchase_topic == "paid"
    if source == "shopify":
        if topic == "orders/create" and paid_topic:
            return f"not paid yet (financial_status {order.financial_status}); orders/paid sends it"
        trigger = "orders/paid" if paid_topic else "orders/create"
        return f"{topic} is not the purchase trigger ({trigger} is)"
    if source == "woocommerce":
        status = str((data or {}).get("status") or "pending")[:30]
        if status == "processing":
            return "not paid yet: processing without date_paid_gmt (cash on delivery is paid when completed)"
        if status == "completed":
            return "completed, but no date_paid_gmt, date_completed_gmt or date_modified_gmt dates it"
        if status in _WOO_UNPAID:
            return f"not paid yet: status {status}"
        return f"not a paid order: status {status}"
    return f"not paid yet (financial_status {order.financial_status})"


def purchase_note(out: IngestOutcome, trigger: bool, why_not: str) -> str:
    """What happened to the Purchase for one ingest."""
    if not trigger:
        return f"no purchase queued: {why_not}"
    events = out.events
    google = google_note(events.google if events is not None else None)
    tail = f"; {google}" if google else ""
    if events is not None and events.queued:
        return "; ".join(f"{name} queued (event_id {eid})" for name, eid in events.queued)[:120] + tail
    if events is not None and events.already_queued:
        name, eid = events.already_queued[0]
        return f"{name} already queued earlier (event_id {eid}), nothing new queued{tail}"
    return f"no purchase queued: {out.events_skipped or 'no events were built'}{tail}"


def order_note(out: IngestOutcome) -> str:
    """What the store did with the order and its profit."""
    if out.status == "stale":
        return "order not written: a newer version is stored"
    head = "order stored" if out.status == "inserted" else "order updated"
    if out.profit_error:
        return f"{head}; no profit: {out.profit_error}"
    if out.snapshot_version is not None:
        return f"{head}; profit snapshot v{out.snapshot_version}"
    return f"{head}; profit unchanged"
