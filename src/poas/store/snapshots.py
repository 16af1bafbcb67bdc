"""Profit snapshots: an immutable, versioned history of each order's profit; a version is added on change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection, select, tuple_

from poas.domain.money import Money
from poas.store.orders import fast_insert, from_minor, to_minor
from poas.store.tables.foundation import profit_snapshots

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
    "realized_profit",
)
_IN_CHUNK = 500


class ProfitLike(Protocol):
    """What a snapshot keeps of a `poas.domain.profit.ProfitResult`."""

    @property
    def revenue_ex_vat(self) -> Money: ...
    @property
    def vat(self) -> Money: ...
    @property
    def cogs(self) -> Money: ...
    @property
    def shipping_cost(self) -> Money: ...
    @property
    def payment_fee(self) -> Money: ...
    @property
    def handling_cost(self) -> Money: ...
    @property
    def gross_profit(self) -> Money: ...
    @property
    def expected_return_cost(self) -> Money: ...
    @property
    def expected_profit(self) -> Money: ...
    @property
    def realized_profit(self) -> Money: ...
    @property
    def sendable(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    shop_id: str
    order_id: str
    version: int
    created_at: datetime
    reason: str
    currency: str
    amounts: Mapping[str, Decimal]  # every name in COMPONENTS
    sendable: bool
    sendable_reason: str | None
    breakdown: Mapping[str, Any]

    def money(self, component: str) -> Money:
        return Money(self.amounts[component], self.currency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "reason": self.reason,
            "currency": self.currency,
            **{k: str(v) for k, v in self.amounts.items()},
            "sendable": self.sendable,
            "sendable_reason": self.sendable_reason,
            "breakdown": dict(self.breakdown),
        }


def _fingerprint(currency: str, minors: Sequence[int], sendable: bool, reason: str | None) -> tuple[Any, ...]:
    return (currency, *minors, bool(sendable), reason or None)


def _row(
    shop_id: str, order_id: str, version: int, result: ProfitLike, reason: str, now: datetime
) -> dict[str, Any]:
    monies = [getattr(result, c) for c in COMPONENTS]
    currency = monies[0].currency
    row: dict[str, Any] = {
        "shop_id": shop_id,
        "order_id": order_id,
        "version": version,
        "created_at": now,
        "reason": reason[:200],
        "currency": currency,
        "sendable": bool(result.sendable),
        "sendable_reason": result.reason,
        "breakdown": result.to_dict(),
    }
    for name, m in zip(COMPONENTS, monies, strict=True):
        if m.currency != currency:
            raise ValueError(f"profit component {name} is in {m.currency}, expected {currency}")
        row[name] = to_minor(m.amount, currency)
    return row


def _row_fingerprint(row: Mapping[Any, Any]) -> tuple[Any, ...]:
    return _fingerprint(
        row["currency"], [row[c] for c in COMPONENTS], row["sendable"], row["sendable_reason"]
    )


def _latest_fingerprints(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, tuple[Any, ...]]]:
    t = profit_snapshots.c
    cols = [
        t.shop_id,
        t.order_id,
        t.version,
        t.currency,
        *(t[c] for c in COMPONENTS),
        t.sendable,
        t.sendable_reason,
    ]
    out: dict[tuple[str, str], tuple[int, tuple[Any, ...]]] = {}
    for i in range(0, len(keys), _IN_CHUNK):
        chunk = list(keys[i : i + _IN_CHUNK])
        rows = conn.execute(select(*cols).where(tuple_(t.shop_id, t.order_id).in_(chunk)).order_by(t.version))
        for r in rows:
            out[(r.shop_id, r.order_id)] = (r.version, _row_fingerprint(r._mapping))
    return out


def add_snapshots(
    conn: Connection,
    items: Sequence[tuple[str, str, ProfitLike]],
    *,
    reason: str,
    now: datetime,
    known_new: bool = False,
) -> list[tuple[str, str, int]]:
    """Add a new version for each (shop, order, result) whose profit differs from its latest snapshot.

    Returns (shop, order, version) of the snapshots added. `known_new` skips the look-up of existing
    versions (only for orders the caller just inserted). Rows are never updated or deleted.
    """
    latest = {} if known_new else _latest_fingerprints(conn, [(s, o) for s, o, _ in items])
    rows: list[dict[str, Any]] = []
    for shop_id, order_id, result in items:
        prev = latest.get((shop_id, order_id))
        row = _row(shop_id, order_id, 1 if prev is None else prev[0] + 1, result, reason, now)
        fp = _row_fingerprint(row)
        if prev is not None and prev[1] == fp:
            continue
        latest[(shop_id, order_id)] = (row["version"], fp)
        rows.append(row)
    if rows:
        fast_insert(conn, profit_snapshots, rows)
    return [(r["shop_id"], r["order_id"], r["version"]) for r in rows]


def add_snapshot(
    conn: Connection, shop_id: str, order_id: str, result: ProfitLike, *, reason: str, now: datetime
) -> Snapshot | None:
    """Add a version when the profit changed; None when it equals the latest snapshot."""
    added = add_snapshots(conn, [(shop_id, order_id, result)], reason=reason, now=now)
    return latest_snapshot(conn, shop_id, order_id) if added else None


def _snapshot(r: Any) -> Snapshot:
    cur = r.currency
    return Snapshot(
        shop_id=r.shop_id,
        order_id=r.order_id,
        version=r.version,
        created_at=r.created_at,
        reason=r.reason,
        currency=cur,
        amounts={c: from_minor(getattr(r, c), cur) for c in COMPONENTS},
        sendable=r.sendable,
        sendable_reason=r.sendable_reason,
        breakdown=r.breakdown,
    )


def history(conn: Connection, shop_id: str, order_id: str) -> list[Snapshot]:
    """Every snapshot of the order, oldest first."""
    t = profit_snapshots.c
    rows = conn.execute(
        select(profit_snapshots).where(t.shop_id == shop_id, t.order_id == order_id).order_by(t.version)
    )
    return [_snapshot(r) for r in rows]


def latest_snapshot(conn: Connection, shop_id: str, order_id: str) -> Snapshot | None:
    t = profit_snapshots.c
    row = conn.execute(
        select(profit_snapshots)
        .where(t.shop_id == shop_id, t.order_id == order_id)
        .order_by(t.version.desc())
        .limit(1)
    ).first()
    return None if row is None else _snapshot(row)
