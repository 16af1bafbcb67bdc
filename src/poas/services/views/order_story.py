"""An order's page in words: what Meta was told (or why nothing), whether a correction will follow,
and each profit component's source as a sentence instead of the breakdown's raw keys.

Nothing here is recomputed: the values told to Meta come from the queued payloads, the corrections
from the ledger, the sources from the stored breakdown. The texts are in this one module so they can
be translated.
"""

from __future__ import annotations

import re
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


class Words(BaseModel):
    """A sentence as an English message with `%(name)s` places and their values: the page translates
    `text` and fills in `args`; `str()` is the English sentence (the API's plain field)."""

    text: str
    args: dict[str, str] = Field(default_factory=dict)
    kinds: dict[str, str] = Field(
        default_factory=dict,
        description="how the page writes a number arg in its language: `money` (the order's profit "
        "currency), `money:XXX` (that currency), `count`, `percent` (a number of percent, `2.4`); the "
        "arg itself stays the exact plain number",
    )

    def __str__(self) -> str:
        return (
            self.text % {k: _plain_arg(v, self.kinds.get(k, "")) for k, v in self.args.items()}
            if self.args
            else self.text
        )


def _plain_arg(value: str, kind: str) -> str:
    """An arg in the English plain text: a percent keeps its `%`, another currency its code."""
    if kind == "percent":
        return f"{value} %"
    if kind.startswith("money:"):
        return f"{value} {kind[6:]}"
    return value


# Every sentence this module writes, for the catalogs (poas.web.catalogs reads MESSAGES).
NO_SHOP = "the order's shop is not in the configuration"
NO_PIXEL = "shop %(shop)s has no pixel_id configured"
NO_CONSENT = "no ads-measurement consent (%(why)s)"
TEST_ORDER = "a test order (set events.test_event_code to send test orders)"
NOT_PRICED = "no profit has been computed for it"
NOT_SENDABLE = "its profit is not sendable (%(why)s)"
NOT_PAID = "not paid yet (status %(status)s): the Purchase is queued when it is paid"
HISTORY = (
    "no event was queued: orders read from history (poas sync, imports) are not sent, and an order "
    "cancelled or voided before payment never is"
)
WAITING = "waiting for the worker to send it"
RETRYING = "Meta did not answer or was busy; it will be retried"
FINAL = "the profit is final"
LEDGER = "%(reason)s"
PAST_WINDOW = (
    "the Purchase is more than %(days)s days old (the append window); the change stays in poas's own "
    "figures only"
)
WILL_APPEND = (
    "only when the profit becomes final (refund, cancellation or the return window closing) before the "
    "%(days)s-day append window ends; a cost change alone sends nothing"
)
REVENUE_WITH_SHIPPING = (
    "Revenue without VAT: lines %(lines)s + shipping %(shipping)s; shipping counted as revenue; gift cards "
    "are not revenue."
)
REVENUE_NO_SHIPPING = (
    "Revenue without VAT: lines %(lines)s; shipping charged is not counted as revenue; gift cards are not "
    "revenue."
)
VAT = "VAT on the lines %(lines)s and on shipping %(shipping)s."
SHIPPING_RULE = "Shipping rule %(rule)s (%(method)s)."
SHIPPING_RULE_WEIGHT = "Shipping rule %(rule)s (%(method)s, %(grams)s g)."
FEE_RULE = "Fee rule %(rule)s: %(basis)s."
FEE_RULE_PARTS = "Fee rule %(rule)s: %(percent)s of %(paid)s paid + %(fixed)s."
NO_HANDLING = "No handling rule applies."
HANDLING = "Handling rules: %(rules)s."
HANDLING_PER = {
    "order": "%(rule)s (once per order): %(amount)s",
    "line": "%(rule)s (per line × %(count)s): %(amount)s",
    "unit": "%(rule)s (per unit × %(count)s): %(amount)s",
}
NO_REFUNDS = "No refunds."
REFUND = "Refund %(id)s: revenue %(revenue)s, goods back in stock %(goods)s, return handling %(handling)s."
CANCELLED = "%(basis)s: only the costs really incurred count."
COGS = "Quantity × the unit cost valid when the order was placed, per line (see the lines below)."
RETURNS = "Each line's return probability × (its revenue − goods restocked + return handling)."
BASIS = "%(basis)s."
# Whether the realized profit is final (the order page's status beside it).
NOT_FINAL = "not final: realized so far, from the refunds recorded until now; returns still possible"
FINAL_BY = {
    "cancelled": "final: order cancelled",
    "voided": "final: payment voided",
    "fully_refunded": "final: fully refunded",
    "window_closed": "final: return window closed",
}
FINAL_OTHER = "final: %(trigger)s"
FINAL_CANCELLED = {
    "cancelled": "final: order cancelled; only the costs really incurred are realized",
    "voided": "final: payment voided; only the costs really incurred are realized",
}
PRICED_BEFORE_CANCEL = {
    "cancelled": "order cancelled; the stored profit was priced before cancellations were: recompute it",
    "voided": "payment voided; the stored profit was priced before cancellations were: recompute it",
}
# Why a profit snapshot was added, as the store writes it (ingest, cost imports and edits, rules).
SNAPSHOT_REASONS = (
    (re.compile(r"order inserted"), "order inserted"),
    (re.compile(r"order updated"), "order updated"),
    (re.compile(r"cost rules v(?P<version>\d+)"), "cost rules version %(version)s"),
    (re.compile(r"costs uploaded from (?P<file>.+)"), "costs uploaded from %(file)s"),
    (re.compile(r"costs imported from (?P<file>.+)"), "costs imported from %(file)s"),
    (re.compile(r"cost of (?P<key>.+) entered in the dashboard"), "cost of %(key)s entered in the dashboard"),
)


def profit_status(trigger: str | None, cancelled: str | None, priced_before_cancel: bool) -> Words:
    """Why the realized profit is final (`trigger`: the final correction's), or that it is not yet;
    `cancelled` is "cancelled" or "voided" for such an order."""
    if cancelled and priced_before_cancel:
        return words(PRICED_BEFORE_CANCEL[cancelled])
    if trigger is not None:
        known = FINAL_BY.get(trigger)
        return words(known) if known else words(FINAL_OTHER, trigger=trigger)
    if cancelled:
        return words(FINAL_CANCELLED[cancelled])
    return words(NOT_FINAL)


def snapshot_reason(reason: str) -> Words | None:
    """A snapshot's stored reason as a sentence the page translates; None for one it does not know."""
    for pattern, text in SNAPSHOT_REASONS:
        m = pattern.fullmatch(reason)
        if m is None:
            continue
        return Words(text=text, args={k: str(v) for k, v in m.groupdict().items()})
    return None


MESSAGES = (
    NO_SHOP, NO_PIXEL, NO_CONSENT, TEST_ORDER, NOT_PRICED, NOT_SENDABLE, NOT_PAID, HISTORY, WAITING,
    RETRYING, FINAL, PAST_WINDOW, WILL_APPEND, REVENUE_WITH_SHIPPING, REVENUE_NO_SHIPPING, VAT,
    SHIPPING_RULE, SHIPPING_RULE_WEIGHT, FEE_RULE, FEE_RULE_PARTS, NO_HANDLING, HANDLING,
    *HANDLING_PER.values(), NO_REFUNDS, REFUND, CANCELLED, COGS, RETURNS, NOT_FINAL, *FINAL_BY.values(),
    FINAL_OTHER, *FINAL_CANCELLED.values(), *PRICED_BEFORE_CANCEL.values(),
    *(text for _, text in SNAPSHOT_REASONS),
)  # fmt: skip


def words(text: str, kinds: dict[str, str] | None = None, **args: Any) -> Words:
    return Words(text=text, args={k: str(v) for k, v in args.items()}, kinds=kinds or {})


MONEY2 = {"lines": "money", "shipping": "money"}
REFUND_KINDS = {"revenue": "money", "goods": "money", "handling": "money"}
# The fee rule's basis as profit.py writes it: `2.4 % of 1349.00 paid + 2 NOK`.
_FEE_BASIS = re.compile(
    r"^(?P<percent>-?\d+(?:\.\d+)?) % of (?P<paid>-?\d+(?:\.\d+)?) paid \+ "
    r"(?P<fixed>-?\d+(?:\.\d+)?) (?P<currency>[A-Z]{3})$"
)


class CostSource(BaseModel):
    """Where a line's unit cost came from, in parts the page formats (dates in the shop's zone)."""

    kind: Literal["cost_book", "platform", "fallback", "missing", "other"]
    unit_cost: Decimal | None = None
    currency: str | None = None
    valid_from: datetime | None = None
    origin: str = Field("", description="who entered it: a file, poas sync, the dashboard …")
    text: str = Field("", description="the whole source in words (fallback, missing, other)")
    margin: Decimal | None = Field(None, description="the fallback margin used (a share, 0.4 = 40 %)")
    fallback: str = Field("", description="which fallback gave the margin (default_margin, a rule …)")


class MetaStatus(BaseModel):
    """What Meta was told about the order, in one verdict with its reason."""

    kind: MetaKind
    reason: str = Field("", description="why nothing was sent, why it failed, or what is waiting")
    reason_words: Words | None = Field(None, description="the same as a message and its values (translated)")
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
    because_words: Words | None = Field(None, description="the same as a message and its values (translated)")


# ------------------------------------------------------------------ component sources


def _amount(text: Any) -> str:
    try:
        return f"{Decimal(str(text)):.2f}"
    except (InvalidOperation, ValueError):
        return str(text)


def _basis(entry: dict[str, Any]) -> str:
    basis = entry.get("basis")
    return (str(basis)[:1].upper() + str(basis)[1:]) if basis else ""


def component_words(key: str, entry: Any) -> list[Words]:
    """One profit component's source as sentences (none when there is nothing to say)."""
    if not isinstance(entry, dict):
        return []
    if key == "revenue_ex_vat":
        lines, ship = _amount(entry.get("lines", 0)), _amount(entry.get("shipping", 0))
        if entry.get("shipping_included"):
            return [words(REVENUE_WITH_SHIPPING, MONEY2, lines=lines, shipping=ship)]
        return [words(REVENUE_NO_SHIPPING, MONEY2, lines=lines)]
    if key == "vat":
        lines, ship = _amount(entry.get("lines", 0)), _amount(entry.get("shipping", 0))
        return [words(VAT, MONEY2, lines=lines, shipping=ship)]
    if key == "shipping_cost" and entry.get("rule"):
        method, grams = entry.get("method") or "–", entry.get("grams")
        if grams in (None, ""):
            return [words(SHIPPING_RULE, rule=entry["rule"], method=method)]
        return [
            words(SHIPPING_RULE_WEIGHT, {"grams": "count"}, rule=entry["rule"], method=method, grams=grams)
        ]
    if key == "payment_fee" and entry.get("rule"):
        return [_fee_words(str(entry["rule"]), str(entry.get("basis", "")))]
    if key == "handling_cost":
        rules = entry.get("rules") or []
        if not rules:
            return [words(NO_HANDLING)]
        return [
            words(
                HANDLING_PER.get(str(r.get("per")), HANDLING_PER["unit"]),
                {"count": "count", "amount": "money"},
                rule=r.get("rule"),
                count=r.get("count", "1"),
                amount=_amount(r.get("amount")),
            )
            for r in rules
        ]
    if key == "refunded_revenue_ex_vat":
        refunds = entry.get("refunds") or []
        if not refunds:
            return [words(NO_REFUNDS)]
        return [
            words(
                REFUND,
                REFUND_KINDS,
                id=r.get("refund_id"),
                revenue=_amount(r.get("revenue_ex_vat")),
                goods=_amount(r.get("recovered_cogs")),
                handling=_amount(r.get("return_handling")),
            )
            for r in refunds
        ]
    if key == "cancellation" and entry.get("basis") != "not cancelled":
        return [words(CANCELLED, basis=_basis(entry))]
    if key == "cogs":
        return [words(COGS)]
    if key == "expected_return_cost":
        return [words(RETURNS)]
    text = _basis(entry)
    return [words(BASIS, basis=text.rstrip("."))] if text else []


def _fee_words(rule: str, basis: str) -> Words:
    """`2.4 % of 1349.00 paid + 2 NOK` as numbers the page writes in its language; other text as is."""
    m = _FEE_BASIS.match(basis)
    if m is None:
        return words(FEE_RULE, rule=rule, basis=basis)
    kinds = {"percent": "percent", "paid": "money", "fixed": f"money:{m['currency']}"}
    return words(FEE_RULE_PARTS, kinds, rule=rule, percent=m["percent"], paid=m["paid"], fixed=m["fixed"])


def component_text(key: str, entry: Any) -> str:
    """component_words as one English line (the API's `source`)."""
    found = component_words(key, entry)
    if key == "handling_cost" and found and found[0].text != NO_HANDLING:
        return str(words(HANDLING, rules="; ".join(str(w) for w in found)))
    return " ".join(str(w) for w in found)


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
        name = str(cost.get("fallback", "fallback"))
        return CostSource(
            kind="fallback", margin=margin, fallback=name, text=f"No cost: estimated from the {name} {pct}"
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
) -> Words:
    """Why no event exists for an order, in the order the queueing decides it."""
    if shop is None:
        return words(NO_SHOP)
    if not shop.pixel_id:
        return words(NO_PIXEL, shop=shop.id)
    if order is not None:
        verdict = ads_consent(shop, order)
        if not verdict.allowed:
            return words(NO_CONSENT, why=verdict.reason)
        if order.test and not shop.events.test_event_code:
            return words(TEST_ORDER)
    if sendable is None:
        return words(NOT_PRICED)
    if not sendable:
        return words(NOT_SENDABLE, why=sendable_reason or "policy")
    unpaid = order is not None and order.financial_status in ("pending", "authorized")
    if unpaid and shop.events.purchase_topic == "paid" and order is not None:
        return words(NOT_PAID, status=order.financial_status)
    return words(HISTORY)


def meta_status(
    told: list[SentValue], dead_errors: dict[int, str | None], not_sent_reason: Words
) -> MetaStatus:
    """The verdict: sent / queued / dead for the newest Purchase, or not sent and why."""
    appends = [t for t in told if t.event_name == "AppendValue"]
    firsts = [t for t in told if t.event_name != "AppendValue"]
    if not firsts:
        why = not_sent_reason
        return MetaStatus(kind="not_sent", reason=str(why), reason_words=why, appends=appends)
    purchase = next((t for t in reversed(firsts) if t.event_name == "Purchase"), firsts[-1])
    if purchase.state == "dead":
        text, _ = reason_words(dead_errors.get(purchase.id))
        dead = words(LEDGER, reason=text)
        return MetaStatus(kind="dead", reason=text, reason_words=dead, purchase=purchase, appends=appends)
    if purchase.state == "queued":
        why = words(RETRYING if purchase.outbox_state == "retry" else WAITING)
        return MetaStatus(
            kind="queued", reason=str(why), reason_words=why, purchase=purchase, appends=appends
        )
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
            return _because(note, words(FINAL))
        note.append = "wont"
        return _because(note, words(LEDGER, reason=fix.reason))
    if not differs:
        return note
    window_days = shop.events.append_window_days if shop else 7
    deadline = purchase_time + timedelta(days=window_days)
    note.append = "wont" if now > deadline else "will"
    return _because(note, words(PAST_WINDOW if now > deadline else WILL_APPEND, days=window_days))


def _because(note: CorrectionNote, why: Words) -> CorrectionNote:
    note.because, note.because_words = str(why), why
    return note
