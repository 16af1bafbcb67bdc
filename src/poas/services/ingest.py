"""Ingest: store an order, price it, snapshot its profit and queue its events in the caller's transaction.

One order (webhooks, the JSON API) goes through `ingest_order`; file imports go through
`ingest_orders`, which does the same per batch with a few statements per table. `recompute_profits`
prices stored orders again (after a cost or rule change) and adds a snapshot version where the
profit changed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, select

from poas.domain.costs import CostBook
from poas.domain.customers import counts, customer_key
from poas.domain.fx import FxError, FxTable
from poas.domain.google_identity import GOOGLE_KEY, google_user_data
from poas.domain.order import Order
from poas.domain.pii import hash_user_data
from poas.domain.profit import ProfitError, ProfitPolicy, ProfitResult, compute_profit
from poas.domain.returns import ReturnRateModel
from poas.domain.rules import CostRules
from poas.services.purchase_events import QueuedEvents, queue_purchase_events
from poas.settings import ShopConfig
from poas.sources.stored_body import Hashed
from poas.store.costs import load_cost_book, load_fx_table
from poas.store.customer_numbering import StagedPlacements, stage_placements, staged_row
from poas.store.customers import place_orders, staged_from_store
from poas.store.field_pickle import FieldPickle
from poas.store.order_rows import ORDER_COLUMNS, UPDATED_AT, OrderRows, order_rows, utc_text
from poas.store.order_writer import UpsertResult, write_orders
from poas.store.orders import (
    ensure_shop,
    load_orders,
    load_user_data,
    newest_per_key,
    priced_as_stored,
    stored_form,
)
from poas.store.return_rates import load_model
from poas.store.rules import load_rules
from poas.store.snapshots import (
    COMPONENTS,
    SnapshotValues,
    add_snapshot_values,
    add_snapshots,
    snapshot_values,
)
from poas.store.tables.foundation import orders as orders_table

Status = Literal["inserted", "updated", "stale"]
MAX_PROFIT_ERRORS_KEPT = 1000
_NOT_TRIGGER = "not a purchase trigger"
_REV, _GROSS, _EXPECTED, _REALIZED = (
    COMPONENTS.index(c) for c in ("revenue_ex_vat", "gross_profit", "expected_profit", "realized_profit")
)
_CREATED_AT = ORDER_COLUMNS.index("created_at")


def hash_contact(order: Order) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The hashed CAPI user_data to keep (raw contact data is never stored), and the fields dropped.
    An fbclid without an fbc is dated by the order's creation (`event_time=order.created_at`).

    Google's identifiers, hashed by Google's own rules, are kept beside Meta's under `GOOGLE_KEY`
    (their dropped fields prefixed `google.`): both are computed here, on arrival, because the raw
    contact data is gone afterwards."""
    result = hash_user_data(
        order.customer, order.attribution, order.shipping_country, event_time=order.created_at
    )
    user_data, dropped = dict(result.user_data), dict(result.dropped)
    google = google_user_data(order.customer, order.shipping_country)
    if google.user_data:
        user_data[GOOGLE_KEY] = google.user_data
    dropped.update({f"google.{k}": v for k, v in google.dropped.items()})
    return (user_data or None), dropped


def _contact(
    conn: Connection, order: Order, hashed: Hashed | None
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The order's user_data: hashed on arrival (`hashed`, a stored inbox body) or from its contact
    data; without a key identifier (e.g. a refund rebuilt without contact) the stored hashes stay."""
    if hashed is not None:
        user_data, dropped = (dict(hashed.user_data) or None), dict(hashed.dropped)
        identifies = hashed.identifies
    else:
        user_data, dropped = hash_contact(order)
        c = order.customer
        identifies = bool(c.email or c.phone or c.external_id)
    if not identifies:
        stored = load_user_data(conn, order.shop_id, order.order_id) or {}
        user_data = {**stored, **(user_data or {})} or None
    return user_data, dropped


@dataclass(frozen=True, slots=True)
class ProfitContext:
    """What pricing a shop's orders needs: costs, rules, policy and exchange rates."""

    shop: ShopConfig
    costs: CostBook
    rules: CostRules
    policy: ProfitPolicy
    fx: FxTable
    return_rates: ReturnRateModel | None = None  # learned by `poas returns fit`; None until then

    @classmethod
    def load(
        cls, conn: Connection, shop: ShopConfig, *, keys: Collection[str] | None = None
    ) -> ProfitContext:
        """Load from the store; `keys` limits the cost book to those variant ids / SKUs."""
        rules = load_rules(conn, shop.id) or CostRules(currency=shop.currency)
        return cls(
            shop,
            load_cost_book(conn, shop.id, keys),
            rules,
            ProfitPolicy.from_shop(shop),
            load_fx_table(conn),
            load_model(conn, shop.id),
        )

    def price(self, order: Order) -> tuple[ProfitResult | None, str | None]:
        """The profit, or why it cannot be computed (block policy, missing FX rate, bad refund)."""
        try:
            result = compute_profit(
                order,
                costs=self.costs,
                rules=self.rules,
                policy=self.policy,
                fx=self.fx,
                shop_currency=self.shop.currency,
                return_rates=self.return_rates,
            )
        except (ProfitError, FxError) as exc:
            return None, str(exc)
        return result, None


def _cost_keys(orders: Iterable[Order]) -> set[str]:
    keys: set[str] = set()
    for order in orders:
        for ln in order.lines:
            keys.update(k for k in (ln.variant_id, ln.sku) if k)
    return keys


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    shop_id: str
    order_id: str
    status: Status  # stale = the stored order is newer; nothing was changed
    profit: ProfitResult | None = None
    profit_error: str | None = None
    snapshot_version: int | None = None  # the snapshot added; None when the profit did not change
    events: QueuedEvents | None = None  # what queue_purchase_events did
    events_skipped: str | None = None  # why no events were queued
    contact_dropped: Mapping[str, str] = field(default_factory=dict)


def _check_shop(order: Order, shop: ShopConfig) -> None:
    if order.shop_id != shop.id:
        raise ValueError(f"order {order.order_id} belongs to shop {order.shop_id!r}, not {shop.id!r}")


def _queue(
    conn: Connection,
    shop: ShopConfig,
    order: Order,
    user_data: Mapping[str, Any] | None,
    profit: ProfitResult | None,
    now: datetime,
) -> tuple[QueuedEvents | None, str | None]:
    if profit is None:
        return None, "no profit could be computed"
    queued = queue_purchase_events(
        conn, shop=shop, order=order, user_data=dict(user_data or {}), profit=profit, now=now
    )
    return queued, queued.skipped


@dataclass(slots=True)
class PreparedOrder(FieldPickle):
    """One order ready to write: its rows and profit snapshot values, or why it has no profit.

    Built by `prepare_order` (in an import's worker processes too: everything but `order`, `profit`
    and `user_data`, which are kept only when events are to be queued, pickles cheaply).
    """

    rows: OrderRows
    lines: int
    snapshot: SnapshotValues | None
    profit_error: str | None
    line: int = 0  # the file line the order starts on (imports)
    order: Order | None = None
    profit: ProfitResult | None = None
    user_data: dict[str, Any] | None = None
    customer_key: str | None = None  # the order's customer (poas.domain.customers.customer_key)
    counts: bool = False  # whether it counts as one of its customer's orders

    @property
    def key(self) -> tuple[str, str]:
        return self.rows.key


def prepare_order(
    order: Order, context: ProfitContext, *, amounts_exact: bool = False, keep: bool = False, line: int = 0
) -> PreparedOrder:
    """Hash the contact data, price the order as the store will keep it, and build its rows."""
    user_data, _ = hash_contact(order)
    # priced as stored: an order that prices the same as it is (the common case) is not copied
    as_is = amounts_exact or (not keep and priced_as_stored(order))
    kept = order if as_is else stored_form(order)
    profit, error = context.price(kept)
    return PreparedOrder(
        order_rows(order, user_data),
        len(order.lines),
        snapshot_values(profit) if profit is not None else None,
        error,
        line,
        kept if keep else None,
        profit if keep else None,
        user_data if keep else None,
        customer_key(user_data),
        counts(test=order.test, cancelled_at=order.cancelled_at, financial_status=order.financial_status),
    )


def ingest_order(
    conn: Connection,
    order: Order,
    shop: ShopConfig,
    *,
    now: datetime,
    trigger_purchase: bool,
    context: ProfitContext | None = None,
    hashed: Hashed | None = None,
) -> IngestOutcome:
    """Store, price, snapshot and (when `trigger_purchase`) queue events for one order.

    `hashed` is the order's contact data as hashed when its delivery arrived (the inbox stores no raw
    contact data): used as the order's user_data instead of hashing `order.customer`.

    Runs in the caller's transaction. An order older than the stored one (by `updated_at`) changes
    nothing. Profit is computed on the order as the store keeps it (amounts in minor units), so a
    later recompute from the store gives the same numbers. Without a `context`, the rules in force
    and the FX rates are read from the store (their parsed forms are reused while unchanged) and
    only the cost rows of the order's variants and SKUs are loaded.
    """
    _check_shop(order, shop)
    ensure_shop(conn, shop.id, shop.currency, shop.prices_include_vat, now)
    user_data, dropped = _contact(conn, order, hashed)
    key = (order.shop_id, order.order_id)
    up = write_orders(
        conn, [order_rows(order, user_data)], now_text=utc_text(now), always_clear_children=True
    )
    if key in up.stale:
        why = "a newer version is stored: nothing written" if trigger_purchase else _NOT_TRIGGER
        return IngestOutcome(
            order.shop_id, order.order_id, "stale", events_skipped=why, contact_dropped=dropped
        )
    status: Status = "inserted" if key in up.inserted else "updated"
    ctx = context or ProfitContext.load(conn, shop, keys=_cost_keys([order]))
    kept = stored_form(order)
    profit, error = ctx.price(kept)
    version = None
    if profit is not None:
        added = add_snapshot_values(
            conn, [(*key, snapshot_values(profit))], reason=f"order {status}", now=now
        )
        version = added[0][2] if added else None
    place_orders(conn, order.shop_id, [order.order_id], now=now)  # new / returning, customer figures
    events: QueuedEvents | None = None
    skipped: str | None = _NOT_TRIGGER
    if trigger_purchase:
        events, skipped = _queue(conn, shop, kept, user_data, profit, now)
    return IngestOutcome(
        order.shop_id, order.order_id, status, profit, error, version, events, skipped, dropped
    )


@dataclass(slots=True)
class BatchOutcome:
    inserted: int = 0
    updated: int = 0
    stale: int = 0
    snapshots: int = 0
    queued: int = 0
    profit_errors: list[tuple[str, str]] = field(default_factory=list)  # (order id, reason), the first few
    profit_error_count: int = 0  # every order stored without profit (the list keeps MAX_PROFIT_ERRORS_KEPT)


def _newest(prepared: Iterable[PreparedOrder]) -> dict[tuple[str, str], PreparedOrder]:
    """One per (shop, order id), the newest by `updated_at` (on a tie the later), as the store keeps."""
    latest: dict[tuple[str, str], PreparedOrder] = {}
    for p in prepared:
        prev = latest.get(p.key)
        if prev is None:
            latest[p.key] = p
            continue
        new, old = p.rows.head[UPDATED_AT], prev.rows.head[UPDATED_AT]
        if new is None or old is None or new >= old:
            latest[p.key] = p
    return latest


def write_prepared(
    conn: Connection,
    prepared: Sequence[PreparedOrder],
    shop: ShopConfig,
    *,
    now: datetime,
    trigger_purchase: bool = False,
    outcome: BatchOutcome | None = None,
    staged: StagedPlacements | None = None,
) -> BatchOutcome:
    """Write prepared orders in the caller's transaction: orders, child rows, changed snapshots, events.

    Events need the `order`, `profit` and `user_data` kept by `prepare_order(..., keep=True)`.
    With `staged` (a bulk backfill that queues no events), the written orders' customer rows are
    stored unnumbered and their customers added to it instead of being numbered now: the caller
    numbers them all at once (`number_customers`) when the import ends, which gives the same rows as
    placing them batch by batch.
    """
    if staged is not None and trigger_purchase:
        raise ValueError("events need their orders placed first: staged needs trigger_purchase=False")
    out = outcome or BatchOutcome()
    latest = _newest(prepared)
    up = write_orders(conn, [p.rows for p in latest.values()], now_text=utc_text(now))
    out.inserted += len(up.inserted)
    out.updated += len(up.updated)
    out.stale += len(up.stale)
    for status, keys in (("inserted", up.inserted), ("updated", up.updated)):
        items = [(*k, p.snapshot) for k, p in latest.items() if k in keys and p.snapshot is not None]
        if items:
            added = add_snapshot_values(
                conn, items, reason=f"order {status}", now=now, known_new=status == "inserted"
            )
            out.snapshots += len(added)
    written = up.written
    ids = [k[1] for k in latest if k in written]
    if staged is None:
        place_orders(conn, shop.id, ids, now=now)
    else:
        _stage(conn, shop.id, latest, up, staged, now)
    for key, p in latest.items():
        if key in written and p.profit_error is not None:
            out.profit_error_count += 1
            if len(out.profit_errors) < MAX_PROFIT_ERRORS_KEPT:  # memory stays flat on huge imports
                out.profit_errors.append((key[1], p.profit_error))
    if trigger_purchase:
        for key, p in latest.items():
            if key in written and p.profit is not None and p.order is not None:
                events, _ = _queue(conn, shop, p.order, p.user_data, p.profit, now)
                if events is not None and events.queued:
                    out.queued += 1
    return out


def _stage(
    conn: Connection,
    shop_id: str,
    latest: dict[tuple[str, str], PreparedOrder],
    up: UpsertResult,
    staged: StagedPlacements,
    now: datetime,
) -> None:
    """The written orders' customer rows, unnumbered, from what was just written; an order replaced
    without a new profit keeps its stored snapshot's figures, read back from the store."""
    stamp = utc_text(now)
    rows: list[tuple[Any, ...]] = []
    from_store: list[str] = []
    written = up.written  # a new set per call: taken once, not once per order
    for key, p in latest.items():
        if key not in written:
            continue
        snap = p.snapshot
        if snap is None and key in up.updated:
            from_store.append(key[1])
            continue
        figures = None
        if snap is not None:
            m = snap.minors
            figures = (m[_REV], m[_GROSS], m[_EXPECTED], m[_REALIZED])
            staged.currency = staged.currency or snap.currency
        known = snap is not None and snap.missing_cost_lines == 0
        placed = p.rows.head[_CREATED_AT]
        rows.append(staged_row(shop_id, key[1], p.customer_key, placed, p.counts, figures, known, stamp))
    if from_store:
        rows += staged_from_store(conn, shop_id, from_store, now)
    replaced = [k[1] for k in up.updated]
    staged.keys |= stage_placements(conn, shop_id, rows, replaced)


def ingest_orders(
    conn: Connection,
    batch: Sequence[Order],
    shop: ShopConfig,
    *,
    now: datetime,
    context: ProfitContext,
    trigger_purchase: bool = False,
    outcome: BatchOutcome | None = None,
    amounts_exact: bool = False,
) -> BatchOutcome:
    """`ingest_order` for a batch (file imports): one upsert per table, one snapshot insert.

    The shop row must exist (`ensure_shop`); `context` is loaded once per import by the caller.
    `amounts_exact` says every amount already fits the currency's minor unit (the canonical readers
    check that), so the orders are priced as they are.
    """
    for order in batch:
        _check_shop(order, shop)
    prepared = [
        prepare_order(o, context, amounts_exact=amounts_exact, keep=trigger_purchase)
        for o in newest_per_key(batch).values()
    ]
    return write_prepared(conn, prepared, shop, now=now, trigger_purchase=trigger_purchase, outcome=outcome)


@dataclass(slots=True)
class RecomputeOutcome:
    checked: int = 0
    changed: int = 0
    profit_errors: list[tuple[str, str]] = field(default_factory=list)


def recompute_profits(
    conn: Connection,
    shop: ShopConfig,
    *,
    now: datetime,
    reason: str,
    order_ids: Sequence[str] | None = None,
    batch_size: int = 500,
) -> RecomputeOutcome:
    """Price stored orders again; each order whose profit changed gets a new snapshot version."""
    ctx = ProfitContext.load(conn, shop)
    out = RecomputeOutcome()

    def run(ids: Sequence[str]) -> None:
        loaded = load_orders(conn, shop.id, ids)
        items: list[tuple[str, str, ProfitResult]] = []
        for order_id, order in loaded.items():
            profit, error = ctx.price(order)
            if profit is None:
                out.profit_errors.append((order_id, error or "unknown"))
            else:
                items.append((shop.id, order_id, profit))
        out.checked += len(loaded)
        added = add_snapshots(conn, items, reason=reason, now=now)
        out.changed += len(added)
        place_orders(conn, shop.id, [a[1] for a in added], now=now)  # customers' figures follow the profit

    if order_ids is not None:
        for i in range(0, len(order_ids), batch_size):
            run(order_ids[i : i + batch_size])
        return out
    last = ""
    while True:
        ids = list(
            conn.execute(
                select(orders_table.c.order_id)
                .where(orders_table.c.shop_id == shop.id, orders_table.c.order_id > last)
                .order_by(orders_table.c.order_id)
                .limit(batch_size)
            ).scalars()
        )
        if not ids:
            return out
        run(ids)
        last = ids[-1]
