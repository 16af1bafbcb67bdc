"""The AppendValue corrections of a shop as a merchant reads them: what Meta was told at purchase, the
final profit, what the correction carried, and whether Meta received it (the demo's story, `poas demo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, select

from poas.domain.money import exponent
from poas.services.views.order_values import event_values
from poas.store.tables.delivery import outbox
from poas.store.tables.returns import profit_corrections

APPEND_VALUE = "AppendValue"
PURCHASE = "Purchase"


@dataclass(frozen=True, slots=True)
class SentCorrection:
    """One queued AppendValue: the order, why its profit became final, the amounts, its delivery."""

    order_id: str
    trigger: str  # refund | cancelled | fully_refunded | window_closed
    currency: str
    purchase_value: Decimal | None  # the Purchase's value (the order's revenue as the Pixel tells it)
    told_profit: Decimal | None  # the Purchase's net_revenue: the expected profit Meta was told
    final_profit: Decimal  # the realized profit
    appended: Decimal | None  # the AppendValue's net_revenue (a negative profit is sent as policy says)
    delivery: str  # the outbox state: pending | sending | retry | sent | dead

    def as_dict(self) -> dict[str, Any]:
        def num(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "order_id": self.order_id,
            "trigger": self.trigger,
            "currency": self.currency,
            "purchase_value": num(self.purchase_value),
            "told_profit": num(self.told_profit),
            "final_profit": num(self.final_profit),
            "appended_net_revenue": num(self.appended),
            "delivery": self.delivery,
        }


@dataclass(frozen=True, slots=True)
class CorrectionSummary:
    queued: int  # AppendValue events queued (inside the append window)
    sent: int  # of those, delivered to Meta
    unsent: int  # final profit recorded in the ledger only (outside the window, no Purchase, …)
    unchanged: int  # final profit within the threshold of what Meta was told
    corrections: tuple[SentCorrection, ...]

    def example(self) -> SentCorrection | None:
        """A sent correction that moved the profit most (ties: the lowest order id)."""
        sent = [c for c in self.corrections if c.delivery == "sent"]
        if not sent:
            return None
        return max(
            sent,
            key=lambda c: (abs((c.told_profit or Decimal(0)) - c.final_profit), -int(c.order_id or 0)),
        )


def _dec(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else Decimal(int(minor)).scaleb(-exponent(currency))


def correction_summary(engine: Engine, shop_id: str) -> CorrectionSummary:
    """The shop's correction ledger in counts, and every queued AppendValue with its delivery state."""
    pc, ob = profit_corrections, outbox
    with engine.connect() as conn:
        states: dict[str, int] = {}
        for (state,) in conn.execute(select(pc.c.state).where(pc.c.shop_id == shop_id)):
            states[state] = states.get(state, 0) + 1
        rows = conn.execute(
            select(pc, ob.c.state.label("delivery"))
            .join(
                ob,
                and_(
                    ob.c.shop_id == pc.c.shop_id,
                    ob.c.event_name == APPEND_VALUE,
                    ob.c.event_id == pc.c.append_event_id,
                ),
            )
            .where(pc.c.shop_id == shop_id, pc.c.state == "queued")
            .order_by(pc.c.id)
        ).all()
        purchases = {
            r.order_id: r.payload
            for r in conn.execute(
                select(ob.c.order_id, ob.c.payload).where(
                    ob.c.shop_id == shop_id,
                    ob.c.event_name == PURCHASE,
                    ob.c.order_id.in_([r.order_id for r in rows] or [""]),
                )
            )
        }
    out = []
    for r in rows:
        told = event_values(PURCHASE, purchases.get(r.order_id))
        final = _dec(r.final_profit, r.currency)
        assert final is not None
        out.append(
            SentCorrection(
                order_id=r.order_id,
                trigger=r.trigger,
                currency=r.currency,
                purchase_value=told.value,
                told_profit=_dec(r.sent_net_revenue, r.currency),
                final_profit=final,
                appended=_dec(r.append_net_revenue, r.currency),
                delivery=r.delivery,
            )
        )
    return CorrectionSummary(
        queued=states.get("queued", 0),
        sent=sum(1 for c in out if c.delivery == "sent"),
        unsent=states.get("unsent", 0),
        unchanged=states.get("unchanged", 0),
        corrections=tuple(out),
    )
