"""The canonical order mapping: one JSON-shaped mapping into `poas.domain.order.Order`, for every reader.

The import files (`canonical`: a JSONL line, or a CSV order's rows turned into a mapping) and the
JSON API (`canonical_json`: the body of POST /api/v1/orders and /api/v1/refunds) both map through
here, so a field means the same everywhere (docs/formats.md). `PayloadError.field` is the field's
path from the record ("lines[0].unit_price"); the callers add the file and line, or answer it as is.

`lenient` (an `Adjustments`) re-reads a body that was accepted and stored before, by a version that
took more than the format allows (0.1.0's JSON API): what that version accepted is read the way it read
it and noted, instead of refused. Ids, currency, timestamps and the checks 0.1.0 made stay strict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from poas.domain.consent import signal_value
from poas.domain.google_identity import CLICK_ID_MAX, CLICK_PARAMS, clean_click_id
from poas.domain.order import (
    Attribution,
    Consent,
    Customer,
    Order,
    OrderLine,
    Refund,
    RefundLine,
    RestockType,
    ShippingLine,
)
from poas.sources.canonical_fields import (
    MAX_COUNT,
    Adjustments,
    boolean,
    country,
    currency,
    integer,
    items,
    money,
    obj,
    opt_money,
    rate,
    req_text,
    text,
    timestamp,
)
from poas.sources.payload import PayloadError, TimeBounds


@dataclass(frozen=True, slots=True)
class ImportDefaults:
    """What the reader supplies: the shop, the VAT basis, the `source` for records that don't say,
    and the shop's bounds for order and refund times (None: any time)."""

    shop_id: str
    prices_include_vat: bool = True
    source: str = "import"
    bounds: TimeBounds | None = None


def _names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))


ORDER_FIELDS = _names(Order)
LINE_FIELDS = _names(OrderLine)
SHIP_FIELDS = _names(ShippingLine)
REFUND_FIELDS = _names(Refund)
REFUND_LINE_FIELDS = _names(RefundLine)
CUSTOMER_FIELDS = _names(Customer)
ATTRIBUTION_FIELDS = _names(Attribution)
CONSENT_FIELDS = _names(Consent)
# A refund posted on its own also names its order (and the shop, which picks the API's shop).
LONE_REFUND_FIELDS = REFUND_FIELDS | {"order_id", "shop_id"}
_NO_CUSTOMER, _NO_ATTRIBUTION, _NO_CONSENT = Customer(), Attribution(), Consent()  # immutable: shared
# The store's column widths (store.tables.foundation); other contact and attribution texts are not
# stored as such (hashed, or unbounded columns).
_TEXT_LIMITS = {"utm_source": 400, "utm_medium": 400, "utm_campaign": 400, "utm_content": 400}
_TEXT_LIMITS |= {"utm_term": 400, "fbclid": 500, "fbc": 600, "fbp": 200}
_TEXT_LIMITS |= dict.fromkeys(CLICK_PARAMS, CLICK_ID_MAX)


def _ads_signal(value: Any) -> bool | None:
    """`consent.ads_tracking`: true/false, or the words a consent banner writes (granted/denied …)."""
    said = signal_value(value) if isinstance(value, str) else None
    return said if said is not None else boolean(value, "consent.ads_tracking")


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@lru_cache(maxsize=256)
def _line_names(i: int) -> dict[str, str]:
    """The error names of line `i`'s fields ("lines[2].tax"), built once per position."""
    return {n: f"lines[{i}].{n}" for n in ("", *LINE_FIELDS)}


def _whole(
    v: Any,
    field: str,
    lenient: Adjustments | None,
    *,
    minimum: int,
    kept_from: int,
    default: int | None = None,
) -> int:
    """`integer`; a lenient read keeps values from `kept_from` up (what 0.1.0 accepted), noted."""
    if lenient is None:
        return integer(v, field, default=default, minimum=minimum)
    n = integer(v, field, default=default, minimum=kept_from)
    if n < minimum:
        lenient.note(field, f"kept below {minimum}")
    return n


def _line(d: Any, i: int, cur: str, lenient: Adjustments | None) -> OrderLine:
    f = _line_names(i)
    o = obj(d, f"lines[{i}]", LINE_FIELDS, lenient=lenient)
    if "unit_price" not in o or o["unit_price"] in (None, ""):
        raise PayloadError(f["unit_price"], "is required (a line without a price cannot be priced)")
    g = o.get
    return OrderLine(
        line_id=text(g("line_id"), f["line_id"], max_len=100) or str(i + 1),
        quantity=integer(g("quantity"), f["quantity"]),
        unit_price=money(g("unit_price"), f["unit_price"], cur, required=True, lenient=lenient),
        sku=text(g("sku"), f["sku"], max_len=200, lenient=lenient),
        variant_id=text(g("variant_id"), f["variant_id"], max_len=100),
        product_id=text(g("product_id"), f["product_id"], max_len=100),
        title=text(g("title"), f["title"], lenient=lenient) or "",
        category=text(g("category"), f["category"], max_len=200, lenient=lenient),
        discount=money(g("discount"), f["discount"], cur, lenient=lenient),
        tax=money(g("tax"), f["tax"], cur, lenient=lenient),
        tax_rate=rate(g("tax_rate"), f["tax_rate"], lenient=lenient),
        gift_card=bool(boolean(g("gift_card"), f["gift_card"], False)),
        grams=_whole(g("grams"), f["grams"], lenient, minimum=0, kept_from=-MAX_COUNT, default=0),
        unit_cost=opt_money(g("unit_cost"), f["unit_cost"], cur, lenient=lenient),
    )


def _shipping(d: Any, i: int, cur: str, lenient: Adjustments | None) -> ShippingLine:
    f = f"shipping_lines[{i}]"
    o = obj(d, f, SHIP_FIELDS, lenient=lenient)
    return ShippingLine(
        price=money(o.get("price"), f"{f}.price", cur, required=True, lenient=lenient),
        method=text(o.get("method"), f"{f}.method", max_len=200, lenient=lenient) or "",
        title=text(o.get("title"), f"{f}.title", lenient=lenient) or "",
        discount=money(o.get("discount"), f"{f}.discount", cur, lenient=lenient),
        tax=money(o.get("tax"), f"{f}.tax", cur, lenient=lenient),
        tax_rate=rate(o.get("tax_rate"), f"{f}.tax_rate", lenient=lenient),
    )


def _restock(v: Any, field: str) -> RestockType:
    if v is None or v == "":
        return RestockType.NO_RESTOCK
    if isinstance(v, str):
        try:
            return RestockType(v.strip().lower())
        except ValueError:
            pass
    shown = repr(v) if isinstance(v, str) else "the value"
    raise PayloadError(field, f"{shown} must be one of {', '.join(t.value for t in RestockType)}")


def _refund(
    o: Mapping[str, Any],
    f: str,
    refund_id: str,
    cur: str | None,
    line_ids: set[str] | None,
    lenient: Adjustments | None,
    bounds: TimeBounds | None,
) -> Refund:
    """A refund at path `f`; `cur` and `line_ids` None when its order is not known (a refund on its own)."""
    lines = []
    for j, rl in enumerate(items(o.get("lines"), _at(f, "lines"))):
        g = _at(f, f"lines[{j}]")
        rlo = obj(rl, g, REFUND_LINE_FIELDS, lenient=lenient)
        line_id = req_text(rlo.get("line_id"), f"{g}.line_id")
        if line_ids is not None and line_id not in line_ids:
            if lenient is None:
                raise PayloadError(f"{g}.line_id", f"{line_id!r} is not a line of this order")
            lenient.note(f"{g}.line_id", "kept though not a line of this order")
        lines.append(
            RefundLine(
                line_id=line_id,
                quantity=_whole(rlo.get("quantity"), f"{g}.quantity", lenient, minimum=1, kept_from=0),
                restock_type=_restock(rlo.get("restock_type"), f"{g}.restock_type"),
                amount=opt_money(rlo.get("amount"), f"{g}.amount", cur, lenient=lenient),
                tax=opt_money(rlo.get("tax"), f"{g}.tax", cur, lenient=lenient),
            )
        )
    processed = timestamp(o.get("processed_at"), _at(f, "processed_at"), required=True, bounds=bounds)
    assert processed is not None
    return Refund(
        refund_id=refund_id,
        processed_at=processed,
        lines=tuple(lines),
        shipping=money(o.get("shipping"), _at(f, "shipping"), cur, lenient=lenient),
        shipping_tax=money(o.get("shipping_tax"), _at(f, "shipping_tax"), cur, lenient=lenient),
        adjustment=money(o.get("adjustment"), _at(f, "adjustment"), cur, signed=True, lenient=lenient),
        adjustment_tax=money(
            o.get("adjustment_tax"), _at(f, "adjustment_tax"), cur, signed=True, lenient=lenient
        ),
        note=text(o.get("note"), _at(f, "note"), max_len=2000, lenient=lenient) or "",
    )


def _order_refunds(
    v: Any, cur: str, line_ids: set[str], lenient: Adjustments | None, bounds: TimeBounds | None
) -> tuple[Refund, ...]:
    out: list[Refund] = []
    seen: set[str] = set()
    for i, r in enumerate(items(v, "refunds")):
        f = f"refunds[{i}]"
        o = obj(r, f, REFUND_FIELDS, lenient=lenient)
        refund_id = text(o.get("refund_id"), f"{f}.refund_id", max_len=100) or str(i + 1)
        if refund_id in seen:
            raise PayloadError(f"{f}.refund_id", f"{refund_id!r} appears twice")
        seen.add(refund_id)
        out.append(_refund(o, f, refund_id, cur, line_ids, lenient, bounds))
    return tuple(out)


def _shop_id(v: Any, shop_id: str | None, lenient: Adjustments | None) -> None:
    """Check a body's `shop_id` against the shop it is read for (`shop_id` None: only its shape).

    Lenient: 0.1.0 never read it (its route picked the shop, by a token when the value was not a
    string), so one that is unreadable or names another shop is ignored: the stored shop holds.
    """
    try:
        named = text(v, "shop_id", max_len=100)
        if named is not None and shop_id is not None and named != shop_id:
            raise PayloadError("shop_id", f"{named!r} differs from the shop {shop_id!r}")
    except PayloadError:
        if lenient is None:
            raise
        lenient.note("shop_id", "ignored (the body is read for the shop it was stored under)")


def read_refund(
    d: Any, *, lenient: Adjustments | None = None, bounds: TimeBounds | None = None
) -> tuple[str, Refund]:
    """A refund on its own (POST /api/v1/refunds): (its order's id, the refund); `refund_id` is required;
    its time within `bounds` when given.

    Its order may not be known yet, so amounts are checked for sign and range but not for the
    currency's decimals, and refund lines are not checked against the order's lines.
    """
    o = obj(d, "", LONE_REFUND_FIELDS, lenient=lenient)
    order_id = req_text(o.get("order_id"), "order_id")
    _shop_id(o.get("shop_id"), None, lenient)
    refund_id = req_text(o.get("refund_id"), "refund_id")
    return order_id, _refund(o, "", refund_id, None, None, lenient, bounds)


def _str_fields(o: Mapping[str, Any], prefix: str, lenient: Adjustments | None) -> dict[str, str | None]:
    """The fields present (`o` holds only known names, see `obj`); absent ones keep their None default."""
    return {
        n: text(v, f"{prefix}.{n}", max_len=_TEXT_LIMITS.get(n, 2000), lenient=lenient) for n, v in o.items()
    }


def _attribution(attr: Mapping[str, Any], lenient: Adjustments | None) -> Attribution:
    """The attribution fields; a Google click id must look like one (URL-safe, bounded). Lenient: one
    that does not is left out and noted (0.1.0 did not know the field)."""
    found = _str_fields(attr, "attribution", lenient)
    for name in CLICK_PARAMS:
        value = found.get(name)
        if value is not None and clean_click_id(value) is None:
            if lenient is None:
                raise PayloadError(f"attribution.{name}", "is not a click id (letters, digits, - _ . ~ only)")
            lenient.note(f"attribution.{name}", "ignored (not a click id)")
            found[name] = None
    return Attribution(**found)


def read_order(
    d: Any, defaults: ImportDefaults, *, root: str = "order", lenient: Adjustments | None = None
) -> Order:
    """Build an Order from one canonical JSON object; PayloadError names the bad field.

    `root` names the object itself in errors about it (an unknown field is "order.qty" in a file,
    "qty" in an API body). `lenient` re-reads a stored body (see the module's docstring).
    """
    o = obj(d, root, ORDER_FIELDS, lenient=lenient)
    order_id = req_text(o.get("order_id"), "order_id")
    _shop_id(o.get("shop_id"), defaults.shop_id, lenient)
    cur = currency(o.get("currency"), "currency")
    raw_lines = items(o.get("lines"), "lines")
    if not raw_lines:
        if lenient is None or o.get("lines") is None:  # 0.1.0 took an empty list, not a missing one
            raise PayloadError("lines", "an order needs at least one line")
        lenient.note("lines", "order without lines kept")
    lines = tuple(_line(ln, i, cur, lenient) for i, ln in enumerate(raw_lines))
    ids = [ln.line_id for ln in lines]
    if len(set(ids)) != len(ids):
        dup = next(x for x in ids if ids.count(x) > 1)
        raise PayloadError("lines", f"line_id {dup!r} appears twice")
    bounds = defaults.bounds
    created = timestamp(o.get("created_at"), "created_at", required=True, bounds=bounds)
    assert created is not None
    cust = obj(o.get("customer"), "customer", CUSTOMER_FIELDS, lenient=lenient)
    attr = obj(o.get("attribution"), "attribution", ATTRIBUTION_FIELDS, lenient=lenient)
    cons = obj(o.get("consent"), "consent", CONSENT_FIELDS, lenient=lenient)
    refunds = o.get("refunds")
    return Order(
        shop_id=defaults.shop_id,
        order_id=order_id,
        created_at=created,
        currency=cur,
        lines=lines,
        prices_include_vat=bool(
            boolean(o.get("prices_include_vat"), "prices_include_vat", defaults.prices_include_vat)
        ),
        processed_at=timestamp(o.get("processed_at"), "processed_at", bounds=bounds),
        updated_at=timestamp(o.get("updated_at"), "updated_at", bounds=bounds),
        name=text(o.get("name"), "name", max_len=200, lenient=lenient) or "",
        shipping_lines=tuple(
            _shipping(s, i, cur, lenient)
            for i, s in enumerate(items(o.get("shipping_lines"), "shipping_lines"))
        ),
        gateway=text(o.get("gateway"), "gateway", max_len=100, lenient=lenient),
        financial_status=text(o.get("financial_status"), "financial_status", max_len=40, lenient=lenient)
        or "paid",
        shipping_country=country(o.get("shipping_country"), "shipping_country", lenient=lenient),
        customer=Customer(**_str_fields(cust, "customer", lenient)) if cust else _NO_CUSTOMER,
        attribution=_attribution(attr, lenient) if attr else _NO_ATTRIBUTION,
        consent=Consent(
            marketing=boolean(cons.get("marketing"), "consent.marketing"),
            ads_tracking=_ads_signal(cons.get("ads_tracking")),
        )
        if cons
        else _NO_CONSENT,
        test=bool(boolean(o.get("test"), "test", False)),
        cancelled_at=timestamp(o.get("cancelled_at"), "cancelled_at", bounds=bounds),
        refunds=() if refunds is None else _order_refunds(refunds, cur, set(ids), lenient, bounds),
        actual_payment_fee=opt_money(o.get("actual_payment_fee"), "actual_payment_fee", cur, lenient=lenient),
        source=text(o.get("source"), "source", max_len=40, lenient=lenient) or defaults.source,
    )
