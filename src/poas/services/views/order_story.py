"""An order's page in words: what Meta was told (or why nothing), whether a correction will follow,
and each profit component's source as a sentence instead of the breakdown's raw keys.

Nothing here is recomputed: the values told to Meta come from the queued payloads, the corrections
from the ledger, the sources from the stored breakdown. The texts are in this one module so they can
be translated.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field

from poas.domain.consent import ads_consent
from poas.domain.order import Order
from poas.services.views.delivery_reasons import reason_words
from poas.services.views.order_values import SentValue
from poas.settings import ShopConfig

MetaKind = Literal["sent", "queued", "dead", "not_sent", "unknown"]


class CostSource(BaseModel):
    """Where a line's unit cost came from, in parts the page formats (dates in the shop's zone)."""

    kind: Literal["cost_book", "platform", "fallback", "missing", "other"]
    unit_cost: Decimal | None = None
    currency: str | None = None
    valid_from: datetime | None = None
    origin: str = Field("", description="who entered it: a file, poas sync, the dashboard …")
    text: str = Field("", description="the whole source in words (fallback, missing, other)")


class MetaStatus(BaseModel):
    """What Meta was told about the order, in one verdict with its reason."""

    kind: MetaKind
    reason: str = Field("", description="why nothing was sent, why it failed, or what is waiting")
    purchase: SentValue | None = Field(None, description="the newest Purchase (or profit event) queued")
    appends: list[SentValue] = Field(default_factory=list, description="AppendValue corrections queued")


class CorrectionNote(BaseModel):
    """Meta's figure against today's profit, and whether an AppendValue will put it right."""

    told: Decimal = Field(description="net_revenue Meta holds (last sent Purchase or AppendValue)")
    told_at: datetime | None
    currency: str | None
    profit_now: Decimal = Field(description="realized profit when final, else expected profit")
    profit_basis: Literal["realized", "expected"]
    differs: bool
    append: Literal["sent", "queued", "will", "wont", "none"]
    because: str = ""


# ------------------------------------------------------------------ component sources

_PER = {"order": "once per order", "line": "per line", "unit": "per unit"}


def _amount(text: Any) -> str:
    try:
        return f"{Decimal(str(text)):.2f}"
    except (InvalidOperation, ValueError):
        return str(text)


def _basis(entry: dict[str, Any]) -> str:
    basis = entry.get("basis")
    return (str(basis)[:1].upper() + str(basis)[1:]) if basis else ""


def component_words(key: str, entry: Any) -> str:
    """One profit component's source as a sentence (empty when there is nothing to say)."""
    if not isinstance(entry, dict):
        return ""
    if key == "revenue_ex_vat":
        ship = entry.get("shipping_included")
        parts = [f"lines {_amount(entry.get('lines', 0))}"]
        if ship:
            parts.append(f"shipping {_amount(entry.get('shipping', 0))}")
        text = "Revenue without VAT: " + " + ".join(parts)
        text += "; shipping counted as revenue" if ship else "; shipping charged is not counted as revenue"
        return text + "; gift cards are not revenue."
    if key == "vat":
        lines, ship = _amount(entry.get("lines", 0)), _amount(entry.get("shipping", 0))
        return f"VAT on the lines {lines} and on shipping {ship}."
    if key == "shipping_cost" and entry.get("rule"):
        grams = entry.get("grams")
        weight = f", {grams} g" if grams not in (None, "") else ""
        return f"Shipping rule {entry['rule']} ({entry.get('method') or 'any method'}{weight})."
    if key == "payment_fee" and entry.get("rule"):
        return f"Fee rule {entry['rule']}: {entry.get('basis', '')}."
    if key == "handling_cost":
        rules = entry.get("rules") or []
        if not rules:
            return "No handling rule applies."
        parts = []
        for r in rules:
            per = _PER.get(str(r.get("per")), str(r.get("per")))
            count = str(r.get("count", "1"))
            times = "" if count == "1" else f" × {count}"
            parts.append(f"{r.get('rule')} ({per}{times}): {_amount(r.get('amount'))}")
        return "Handling rules: " + "; ".join(parts) + "."
    if key == "refunded_revenue_ex_vat":
        refunds = entry.get("refunds") or []
        if not refunds:
            return "No refunds."
        return " ".join(
            f"Refund {r.get('refund_id')}: revenue {_amount(r.get('revenue_ex_vat'))}, goods back in stock "
            f"{_amount(r.get('recovered_cogs'))}, return handling {_amount(r.get('return_handling'))}."
            for r in refunds
        )
    if key == "cancellation" and entry.get("basis") != "not cancelled":
        return _basis(entry) + ": only the costs really incurred count."
    if key == "cogs":
        return "Quantity × the unit cost valid when the order was placed, per line (see the lines below)."
    if key == "expected_return_cost":
        return "Each line's return probability × (its revenue − goods restocked + return handling)."
    text = _basis(entry)
    return text + "." if text and not text.endswith(".") else text


def cost_source(cost: Any) -> CostSource:
    """A line's cost citation (`source`, `row`, `unit_cost`, `valid_from` …) as parts for the page."""
    if not isinstance(cost, dict):
        return CostSource(kind="other", text=str(cost or ""))
    source = cost.get("source")
    unit = _decimal(cost.get("unit_cost"))
    if source == "cost book" and unit is not None:
        return CostSource(
            kind="cost_book",
            unit_cost=unit,
            currency=cost.get("currency"),
            valid_from=_time(cost.get("valid_from")),
            origin=_origin(str(cost.get("row") or "")),
        )
    if source == "order line (platform cost)" and unit is not None:
        return CostSource(
            kind="platform", unit_cost=unit, currency=cost.get("currency"), origin="the shop platform"
        )
    if source == "fallback":
        margin = _decimal(cost.get("margin"))
        pct = f"{margin * 100:.0f} %" if margin is not None else "?"
        return CostSource(
            kind="fallback", text=f"No cost: estimated from the {cost.get('fallback', 'fallback')} {pct}"
        )
    if source == "missing":
        return CostSource(kind="missing", text="No cost and no fallback margin: profit unknown")
    return CostSource(
        kind="other", text=", ".join(f"{k} {v}" for k, v in cost.items() if v not in (None, ""))
    )


def _origin(row: str) -> str:
    """`csv:costs.csv:WOOL-1@2026-09-04T22:00:00+00:00` → `costs.csv`; ids without a file → the source."""
    head = row.split("@", 1)[0]
    kind, _, rest = head.partition(":")
    if kind == "csv" and rest:
        return "file " + rest.split(":", 1)[0]
    return {"shopify": "Shopify", "woocommerce": "WooCommerce", "dashboard": "the dashboard"}.get(
        kind, kind or ""
    )


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# ------------------------------------------------------------------ what Meta was told


def not_queued_reason(
    shop: ShopConfig | None, order: Order | None, sendable: bool | None, sendable_reason: str | None
) -> str:
    """Why no event exists for an order, in the order the queueing decides it."""
    if shop is None:
        return "the order's shop is not in the configuration"
    if not shop.pixel_id:
        return f"shop {shop.id} has no pixel_id configured"
    if order is not None:
        verdict = ads_consent(shop, order)
        if not verdict.allowed:
            return f"no ads-measurement consent ({verdict.reason})"
        if order.test and not shop.events.test_event_code:
            return "a test order (set events.test_event_code to send test orders)"
    if sendable is None:
        return "no profit has been computed for it"
    if not sendable:
        return f"its profit is not sendable ({sendable_reason or 'policy'})"
    if (
        order is not None
        and shop.events.purchase_topic == "paid"
        and order.financial_status in ("pending", "authorized")
    ):
        return f"not paid yet (status {order.financial_status}): the Purchase is queued when it is paid"
    return (
        "no event was queued: orders read from history (poas sync, imports) are not sent, and an order "
        "cancelled or voided before payment never is"
    )


def meta_status(
    told: list[SentValue], dead_errors: dict[int, str | None], not_sent_reason: str
) -> MetaStatus:
    """The verdict: sent / queued / dead for the newest Purchase, or not sent and why."""
    appends = [t for t in told if t.event_name == "AppendValue"]
    firsts = [t for t in told if t.event_name != "AppendValue"]
    if not firsts:
        return MetaStatus(kind="not_sent", reason=not_sent_reason, appends=appends)
    purchase = next((t for t in reversed(firsts) if t.event_name == "Purchase"), firsts[-1])
    if purchase.state == "dead":
        words, _ = reason_words(dead_errors.get(purchase.id))
        return MetaStatus(kind="dead", reason=words, purchase=purchase, appends=appends)
    if purchase.state == "queued":
        why = "waiting for the worker to send it"
        if purchase.outbox_state == "retry":
            why = "Meta did not answer or was busy; it will be retried"
        return MetaStatus(kind="queued", reason=why, purchase=purchase, appends=appends)
    return MetaStatus(kind="sent", purchase=purchase, appends=appends)


def correction_note(
    status: MetaStatus,
    *,
    shop: ShopConfig | None,
    profit_now: Decimal | None,
    final: bool,
    corrections: list[Any],
    purchase_time: datetime,
    now: datetime,
) -> CorrectionNote | None:
    """Meta's figure vs today's profit and what becomes of the difference; None when Meta holds none."""
    if profit_now is None or status.purchase is None or status.purchase.state != "sent":
        return None
    sent_appends = [a for a in status.appends if a.state == "sent" and a.net_revenue is not None]
    holder = sent_appends[-1] if sent_appends else status.purchase
    if holder.net_revenue is None:
        return None
    threshold = shop.events.append_threshold if shop else Decimal(1)
    differs = abs(profit_now - holder.net_revenue) >= threshold
    note = CorrectionNote(
        told=holder.net_revenue,
        told_at=holder.sent_at,
        currency=holder.currency,
        profit_now=profit_now,
        profit_basis="realized" if final else "expected",
        differs=differs,
        append="none",
    )
    fix = next((c for c in corrections if getattr(c, "correction_key", None) == "final"), None)
    if fix is not None:
        if fix.state == "queued":
            newest = status.appends[-1] if status.appends else None
            note.append = "sent" if newest is not None and newest.state == "sent" else "queued"
            note.because = "the profit is final"
        else:
            note.append, note.because = "wont", str(fix.reason)
        return note
    if not differs:
        return note
    window_days = shop.events.append_window_days if shop else 7
    deadline = purchase_time + timedelta(days=window_days)
    if now > deadline:
        note.append = "wont"
        note.because = (
            f"the Purchase is more than {window_days} days old (the append window); the change stays in "
            "poas's own figures only"
        )
    else:
        note.append = "will"
        note.because = (
            f"only when the profit becomes final (refund, cancellation or the return window closing) before "
            f"the {window_days}-day append window ends; a cost change alone sends nothing"
        )
    return note
