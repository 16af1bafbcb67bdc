"""One unit cost entered on the Costs page, and the cost CSV template.

An edit never rewrites history: it adds a cost row valid from the date given (midnight in the shop's
time zone), so orders before that date keep the cost they were priced with and orders after it are
priced again. A row already starting at that very moment is refused (a CSV upload replaces it).

The template is the exact format `poas import costs` and the upload read
(`poas.sources.canonical.read_costs_csv`): a header and, for every key, the row in force now, so the
file downloaded re-uploads unchanged; or, for the keys sold without a cost (or priced with a
fallback margin), rows to fill in.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from poas.domain.costs import CostRow
from poas.services.cost_import import save_costs
from poas.services.missing_costs import fallback_costs, missing_costs
from poas.settings import ShopConfig
from poas.sources.canonical_fields import money
from poas.sources.payload import PayloadError
from poas.store import costs as cost_store
from poas.store.tables.foundation import product_costs

ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)  # what an empty valid_from means
EDIT_SOURCE = "dashboard"
TEMPLATE_COLUMNS = ("variant_id", "sku", "unit_cost", "currency", "valid_from")
_FIRST_DAY, _LAST_DAY = date(1970, 1, 2), date(2100, 1, 1)


class CostEditError(ValueError):
    """A value the form cannot take; `field` names the input, the message is shown as it is."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CostEdit:
    row: CostRow
    recomputed: int  # stored orders priced again
    changed: int  # of those, orders whose profit changed


def local_midnight(day: date, timezone: str) -> datetime:
    """The instant a date-only valid_from stands for: midnight in the shop's time zone, as UTC."""
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def local_day(instant: datetime, timezone: str) -> str:
    """How a valid_from is shown and written back: the shop-local date when it is a local midnight,
    else the local date and time (ISO, with offset); "" for "always"."""
    if instant <= ALWAYS:
        return ""
    local = instant.astimezone(ZoneInfo(timezone))
    if local.time() == time(0):
        return local.date().isoformat()
    return local.isoformat(timespec="seconds")


def parse_cost(text: str, currency: str) -> Decimal:
    raw = text.strip().replace("\u00a0", "").replace(" ", "")
    if "," in raw and "." not in raw:  # 129,50 as Norwegians write it
        raw = raw.replace(",", ".")
    try:
        return money(raw, "unit_cost", currency, required=True)
    except PayloadError as exc:
        raise CostEditError("unit_cost", f"unit cost {text[:30]!r}: {exc.message}") from None


def parse_day(text: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise CostEditError("valid_from", f"valid from {text[:30]!r} is not a date (YYYY-MM-DD)") from None
    if not _FIRST_DAY <= day <= _LAST_DAY:
        raise CostEditError("valid_from", f"valid from {day}: use a date from {_FIRST_DAY} to {_LAST_DAY}")
    return day


def add_cost(
    engine: Engine, shop: ShopConfig, key: str, unit_cost: str, valid_from: str, *, now: datetime
) -> CostEdit:
    """Add a cost row for `key` (variant id or SKU) from `valid_from` (YYYY-MM-DD, shop time) and
    price the stored orders that sold the key again."""
    key = key.strip()
    if not key or len(key) > 200:
        raise CostEditError("key", "give the variant id or SKU (1 to 200 characters)")
    amount = parse_cost(unit_cost, shop.currency)
    start = local_midnight(parse_day(valid_from), shop.timezone)
    t = product_costs.c
    with engine.connect() as conn:
        taken = conn.execute(
            select(t.cost_key).where(t.shop_id == shop.id, t.cost_key == key, t.valid_from == start)
        ).first()
    if taken is not None:
        raise CostEditError(
            "valid_from",
            f"{key} already has a cost from {local_day(start, shop.timezone)}: choose another date "
            "(history is kept; upload a CSV to replace that row)",
        )
    row = CostRow.of(key, amount, shop.currency, start, source=EDIT_SOURCE)
    saved = save_costs(
        engine, shop, [row], now=now, recompute_reason=f"cost of {key} entered in the dashboard"
    )
    return CostEdit(row, saved.recomputed, saved.changed)


def _columns(key: str) -> tuple[str, str]:
    """(variant_id, sku) cells: both columns fill the same cost book key, a numeric key reads as an id."""
    return (key, "") if key.isdigit() or key.startswith("gid://") else ("", key)


def cost_template(engine: Engine, shop: ShopConfig, *, now: datetime, missing: bool = False) -> str:
    """The cost CSV template: the row in force now per key (re-uploads unchanged), or with `missing`
    the keys sold without a cost or on a fallback margin in the last 30 days, unit_cost left to fill in."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TEMPLATE_COLUMNS)
    if missing:
        today = now.astimezone(ZoneInfo(shop.timezone)).date().isoformat()
        keys = [m.key for m in missing_costs(engine, shop, now=now) + fallback_costs(engine, shop, now=now)]
        for key in dict.fromkeys(k for k in keys if k):
            writer.writerow([*_columns(key), "", shop.currency, today])
        return out.getvalue()
    with engine.connect() as conn:
        rows = cost_store.load_cost_rows(conn, shop.id)
    current: dict[str, CostRow] = {}
    for r in sorted(rows, key=lambda r: (r.key, r.valid_from)):
        if r.valid_from <= now or r.key not in current:
            current[r.key] = r
    for key in sorted(current):
        r = current[key]
        writer.writerow(
            [*_columns(key), str(r.unit_cost), r.currency, local_day(r.valid_from, shop.timezone)]
        )
    return out.getvalue()
