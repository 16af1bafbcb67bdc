"""Profit snapshots: an immutable, versioned history of each order's profit; a version is added on change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

from sqlalchemy import Connection, select

from poas.domain.money import Money, exponent
from poas.domain.profit import COST_DEPENDENT, ProfitResult
from poas.store.breakdown_pack import pack, pack_result, unpack
from poas.store.field_pickle import FieldPickle
from poas.store.order_rows import from_minor, json_text, utc_text
from poas.store.order_writer import insert_rows
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
    @property
    def missing_cost_lines(self) -> int: ...
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
    missing_cost_lines: int = 0  # lines with no cost and no fallback margin

    @property
    def profit_known(self) -> bool:
        """False when a cost is missing with no fallback: the profit figures are not profit."""
        return self.missing_cost_lines == 0

    def money(self, component: str) -> Money:
        return Money(self.amounts[component], self.currency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "reason": self.reason,
            "currency": self.currency,
            **{
                k: None if k in COST_DEPENDENT and not self.profit_known else str(v)
                for k, v in self.amounts.items()
            },
            "sendable": self.sendable,
            "sendable_reason": self.sendable_reason,
            "profit_known": self.profit_known,
            "missing_cost_lines": self.missing_cost_lines,
            "breakdown": dict(self.breakdown),
        }


SNAPSHOT_COLUMNS = (
    *("shop_id", "order_id", "version", "created_at", "reason", "currency"),
    *COMPONENTS,
    *("sendable", "sendable_reason", "breakdown", "missing_cost_lines"),
)
Fingerprint = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class SnapshotValues(FieldPickle):
    """What a snapshot stores of one profit result, ready to write (the breakdown packed, as JSON text)."""

    currency: str
    minors: tuple[int, ...]  # COMPONENTS in minor units of `currency`
    sendable: bool
    reason: str | None
    breakdown_json: str
    missing_cost_lines: int = 0

    @property
    def fingerprint(self) -> Fingerprint:
        return _fingerprint(self.currency, self.minors, self.sendable, self.reason)


def snapshot_values(result: ProfitLike) -> SnapshotValues:
    """Round every component to minor units and pack and serialize the breakdown once (`breakdown_pack`)."""
    monies = [getattr(result, c) for c in COMPONENTS]
    currency = monies[0].currency
    for name, m in zip(COMPONENTS, monies, strict=True):
        if m.currency != currency:
            raise ValueError(f"profit component {name} is in {m.currency}, expected {currency}")
    e = exponent(currency)
    minors = tuple(int(m.amount.scaleb(e).to_integral_value(ROUND_HALF_EVEN)) for m in monies)
    return SnapshotValues(
        currency,
        minors,
        bool(result.sendable),
        result.reason,
        json_text(pack_result(result) if isinstance(result, ProfitResult) else pack(result.to_dict())),
        int(result.missing_cost_lines),
    )


def _fingerprint(currency: str, minors: Sequence[int], sendable: bool, reason: str | None) -> Fingerprint:
    return (currency, *minors, bool(sendable), reason or None)


def _latest_fingerprints(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, Fingerprint]]:
    t = profit_snapshots.c
    cols = [t.order_id, t.version, t.currency, *(t[c] for c in COMPONENTS), t.sendable, t.sendable_reason]
    out: dict[tuple[str, str], tuple[int, Fingerprint]] = {}
    by_shop: dict[str, list[str]] = {}
    for shop_id, order_id in keys:
        by_shop.setdefault(shop_id, []).append(order_id)
    for shop_id, ids in by_shop.items():
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            stmt = select(*cols).where(t.shop_id == shop_id, t.order_id.in_(chunk)).order_by(t.version)
            for r in conn.execute(stmt):
                fp = _fingerprint(
                    r.currency, [r._mapping[c] for c in COMPONENTS], r.sendable, r.sendable_reason
                )
                out[(shop_id, r.order_id)] = (r.version, fp)
    return out


def add_snapshot_values(
    conn: Connection,
    items: Sequence[tuple[str, str, SnapshotValues]],
    *,
    reason: str,
    now: datetime,
    known_new: bool = False,
) -> list[tuple[str, str, int]]:
    """Add a new version for each (shop, order, values) that differs from the order's latest snapshot.

    Returns (shop, order, version) of the snapshots added. `known_new` skips the look-up of existing
    versions (only for orders the caller just inserted). Rows are never updated or deleted.
    """
    latest = {} if known_new else _latest_fingerprints(conn, [(s, o) for s, o, _ in items])
    why, at = reason[:200], utc_text(now)
    rows: list[tuple[Any, ...]] = []
    for shop_id, order_id, v in items:
        prev = latest.get((shop_id, order_id))
        fp = v.fingerprint
        if prev is not None and prev[1] == fp:
            continue
        version = 1 if prev is None else prev[0] + 1
        latest[(shop_id, order_id)] = (version, fp)
        rows.append(
            (
                shop_id,
                order_id,
                version,
                at,
                why,
                v.currency,
                *v.minors,
                v.sendable,
                v.reason,
                v.breakdown_json,
                v.missing_cost_lines,
            )
        )
    insert_rows(conn, "profit_snapshots", SNAPSHOT_COLUMNS, rows)
    return [(r[0], r[1], r[2]) for r in rows]


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
    values = [(s, o, snapshot_values(r)) for s, o, r in items]
    return add_snapshot_values(conn, values, reason=reason, now=now, known_new=known_new)


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
        breakdown=unpack(r.breakdown),
        missing_cost_lines=int(r.missing_cost_lines or 0),
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
