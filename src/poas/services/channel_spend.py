"""Ad spend outside Meta: one figure per channel and month, entered or imported, spread over days.

Blended POAS is all profit divided by all ad spend. poas reads Meta's spend itself; what the shop
spends elsewhere (Google, TikTok, a newsletter sponsor …) is entered as a monthly figure per channel
(the dashboard's overview, `poas spend channel`, or a CSV of `channel,month,amount`). A period's
share of a month is the month's figure × the period's days in that month / the month's days.

Google spend read by poas itself (`poas spend sync --channel google`, `poas import spend --channel
google`) is in the spend rows, day by day. A month that has any such row takes Google's spend from
them alone: the monthly figure of a Google channel ("Google", "Google Ads", "AdWords", any case) for
that month is then left out, so the same money is never counted twice. Months without Google rows
still use the figure entered.
"""

from __future__ import annotations

import csv
import io
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, delete, select

from poas.domain.money import exponent
from poas.settings import ShopConfig
from poas.store.orders import upsert_insert
from poas.store.tables.spend import ad_spend, channel_spend

ZERO = Decimal(0)
MAX_AMOUNT = Decimal("1e12")
CSV_HEADER = "channel,month,amount"
GOOGLE_NAMES = frozenset({"google", "googleads", "adwords", "googleadwords"})


class ChannelSpendError(ValueError):
    """A figure that cannot be stored; the message names the field."""


@dataclass(frozen=True, slots=True)
class MonthlySpend:
    channel: str
    month: date  # the first day of the month
    amount: Decimal  # in the shop currency


def parse_month(text: str) -> date:
    """`2026-09` or any day of the month (`2026-09-15`) → 2026-09-01."""
    t = text.strip()
    try:
        d = date.fromisoformat(t + "-01" if len(t) == 7 else t)
    except ValueError:
        raise ChannelSpendError(f"month {t[:20]!r} is not a month (YYYY-MM)") from None
    return d.replace(day=1)


def parse_amount(text: str) -> Decimal:
    t = text.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(t)
    except InvalidOperation:
        raise ChannelSpendError(f"amount {text[:20]!r} is not a number") from None
    if not value.is_finite() or not ZERO <= value < MAX_AMOUNT:
        raise ChannelSpendError(f"amount {text[:20]!r} must be 0 or more")
    return value


def check_channel(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > 100:
        raise ChannelSpendError("channel must be 1 to 100 characters")
    if name.lower() in ("meta", "facebook", "instagram"):
        raise ChannelSpendError(f"{name!r}: Meta's spend is read from Meta; enter other channels here")
    return name


def is_google(channel: str) -> bool:
    """Whether an entered channel name means Google Ads (whose synced rows replace its figure)."""
    return "".join(channel.casefold().split()) in GOOGLE_NAMES


def google_months(engine: Engine, shop: ShopConfig, date_from: date, date_to: date) -> set[date]:
    """First days of the months in which the spend rows hold Google spend of the shop."""
    sp = ad_spend.c
    first = date_from.replace(day=1)
    _, days = monthrange(date_to.year, date_to.month)
    last = date_to.replace(day=days)
    with engine.connect() as conn:
        found = conn.execute(
            select(sp.day)
            .where(sp.shop_id == shop.id, sp.channel == "google", sp.day >= first, sp.day <= last)
            .distinct()
        )
        return {r[0].replace(day=1) for r in found}


def save_monthly(
    engine: Engine, shop: ShopConfig, rows: Iterable[MonthlySpend], *, now: datetime, source: str
) -> int:
    """Store (or replace) each channel's figure for its month; an amount of 0 removes it."""
    e = exponent(shop.currency)
    n = 0
    with engine.begin() as conn:
        for r in rows:
            key = (
                channel_spend.c.shop_id == shop.id,
                channel_spend.c.channel == r.channel,
                channel_spend.c.month == r.month,
            )
            conn.execute(delete(channel_spend).where(*key))
            if r.amount > 0:
                conn.execute(
                    upsert_insert(conn, channel_spend).values(
                        shop_id=shop.id,
                        channel=r.channel,
                        month=r.month,
                        currency=shop.currency,
                        amount_minor=int(r.amount.scaleb(e).to_integral_value()),
                        source=source,
                        updated_at=now,
                    )
                )
            n += 1
    return n


def parse_csv(text: str) -> list[MonthlySpend]:
    """`channel,month,amount` rows (a header line optional; `;` also separates)."""
    sample = text[:2000]
    dialect = "excel-semicolon" if sample.count(";") > sample.count(",") else "excel"
    csv.register_dialect("excel-semicolon", delimiter=";")
    out: list[MonthlySpend] = []
    for i, row in enumerate(csv.reader(io.StringIO(text), dialect=dialect), start=1):
        if not row or not "".join(row).strip():
            continue
        if i == 1 and row[0].strip().lower() == "channel":
            continue
        if len(row) != 3:
            raise ChannelSpendError(f"line {i}: expected channel,month,amount")
        try:
            out.append(MonthlySpend(check_channel(row[0]), parse_month(row[1]), parse_amount(row[2])))
        except ChannelSpendError as exc:
            raise ChannelSpendError(f"line {i}: {exc}") from None
    return out


def list_monthly(engine: Engine, shop: ShopConfig) -> list[MonthlySpend]:
    e = exponent(shop.currency)
    cs = channel_spend
    with engine.connect() as conn:
        rows = conn.execute(
            select(cs.c.channel, cs.c.month, cs.c.amount_minor)
            .where(cs.c.shop_id == shop.id)
            .order_by(cs.c.month.desc(), cs.c.channel)
        ).all()
    return [MonthlySpend(r.channel, r.month, Decimal(r.amount_minor).scaleb(-e)) for r in rows]


def prorate(
    monthly: Iterable[MonthlySpend], date_from: date, date_to: date, places: int
) -> dict[str, Decimal]:
    """Each channel's spend in [date_from, date_to]: a month's figure spread evenly over its days."""
    out: dict[str, Decimal] = {}
    q = Decimal(1).scaleb(-places)
    for m in monthly:
        days = monthrange(m.month.year, m.month.month)[1]
        last = m.month + timedelta(days=days - 1)
        overlap = (min(last, date_to) - max(m.month, date_from)).days + 1
        if overlap <= 0:
            continue
        out[m.channel] = out.get(m.channel, ZERO) + m.amount * overlap / days
    return {k: v.quantize(q) for k, v in sorted(out.items())}


def spend_between(engine: Engine, shop: ShopConfig, date_from: date, date_to: date) -> dict[str, Decimal]:
    """Other channels' spend in the period, per channel (the shop currency): a Google figure's month
    with synced / imported Google rows is left out (those rows are in the rollups' spend)."""
    first = date_from.replace(day=1)
    cs = channel_spend
    e = exponent(shop.currency)
    with engine.connect() as conn:
        rows = conn.execute(
            select(cs.c.channel, cs.c.month, cs.c.amount_minor).where(
                cs.c.shop_id == shop.id, cs.c.month >= first, cs.c.month <= date_to
            )
        ).all()
    synced = (
        google_months(engine, shop, date_from, date_to) if any(is_google(r.channel) for r in rows) else set()
    )
    monthly = [
        MonthlySpend(r.channel, r.month, Decimal(r.amount_minor).scaleb(-e))
        for r in rows
        if not (r.month in synced and is_google(r.channel))
    ]
    return prorate(monthly, date_from, date_to, e)
