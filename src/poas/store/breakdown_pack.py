"""How a profit snapshot's breakdown is stored: without the values every breakdown repeats.

A breakdown (`ProfitResult.to_dict()`) is about 2.2 kB of JSON, most of it the same in every order:
the basis texts of the components, the defaults of each line (no return rule, restock share 1 …),
empty lists. Stored whole it made the snapshots table 60 % of a store (392 MB of 681 MB for 100,000
orders without cost rows). `pack` keeps only what differs from a frozen template
of those values, marked `"~v": 1`; `unpack` gives back the identical dict (equal values, the keys in
the template's order, which is `to_dict`'s). Rows written before packing (no `"~v"`) read as they are.

Rules of the packed form, against a template value `t` (exactly invertible):
- a dict where `t` is a dict: only the keys whose value differs from `t`'s (nested dicts packed the
  same way and left out when nothing in them differs), with `"~": [keys of t that are absent]`;
- a list where `t` is `Each(item)`: every item packed against `item`;
- anything else: the value itself.

The template of a version is never edited: packed rows name their version and are expanded with it
forever, so a changed text in `poas.domain.profit` is simply stored (it differs from the template)
until a new version adds it. A breakdown that cannot be packed (a `"~"` key of its own) is stored whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poas.domain.profit import COMPONENTS as PROFIT_COMPONENTS
from poas.domain.profit import LineProfit, ProfitResult, SharedSource

VERSION_KEY = "~v"
ABSENT_KEY = "~"


class Each:
    """Template of a list: every item is packed against `item`."""

    __slots__ = ("item",)

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item


def _entry(**sources: Any) -> dict[str, Any]:
    return {"amount": "0.00", **sources}


_LINE: dict[str, Any] = {
    "line_id": None,
    "key": None,
    "quantity": 1,
    "gift_card": False,
    "revenue_ex_vat": "0.00",
    "vat": "0.00",
    "vat_source": "order tax",
    "cogs": "0.00",
    "cost": None,
    "p_return": "0",
    "return_rule": None,
    "return_handling": "0.00",
    "restock_share": "1",
    "expected_return_cost": "0.00",
}

TEMPLATE_V1: dict[str, Any] = {
    "order_id": None,
    "currency": "NOK",
    "order_currency": "NOK",
    "vat_treatment": {"prices_include_vat": True, "rule": "VAT removed from prices"},
    "components": {
        "revenue_ex_vat": _entry(
            lines="0.00", shipping="0.00", shipping_included=True, gift_cards="excluded"
        ),
        "vat": _entry(lines="0.00", shipping="0.00"),
        "cogs": _entry(basis="qty × unit cost valid at the order time, per line (see lines)"),
        "shipping_cost": _entry(rule=None, basis="no shipping rule matched"),
        "payment_fee": _entry(rule=None, basis=None),
        "handling_cost": _entry(rules=[]),
        "gross_profit": _entry(),
        "expected_return_cost": _entry(
            basis="Σ lines p_return × (revenue − cogs × restock share + handling)"
        ),
        "expected_profit": _entry(),
        "refunded_revenue_ex_vat": _entry(refunds=[]),
        "recovered_cogs": _entry(basis="restock types return, cancel, legacy_restock"),
        "return_handling_cost": _entry(basis="return handling per returned line (restock type return)"),
        "cancellation": _entry(basis="not cancelled"),
        "realized_profit": _entry(
            basis="gross profit − refunded revenue + recovered cogs − return handling − cancellation"
        ),
    },
    "shipping_revenue": "0.00",
    "total_paid": "0.00",
    "lines": Each(_LINE),
    "fx": [],
    "fallbacks": [],
    "notes": [],
    "sendable": True,
    "reason": None,
}
TEMPLATES: dict[int, dict[str, Any]] = {1: TEMPLATE_V1}
CURRENT = 1


class _Unpackable(Exception):
    pass


_NOT_IN = object()


def _same(value: Any, default: Any) -> bool:
    """Equal as JSON values (True is not 1, 1 is not 1.0)."""
    if type(value) is not type(default):
        return False
    if isinstance(value, list):
        return len(value) == len(default) and all(_same(a, b) for a, b in zip(value, default, strict=True))
    if isinstance(value, dict):
        return value.keys() == default.keys() and all(_same(v, default[k]) for k, v in value.items())
    return bool(value == default)


def _pack_dict(value: dict[str, Any], tmpl: dict[str, Any]) -> dict[str, Any]:
    if ABSENT_KEY in value or VERSION_KEY in value:
        raise _Unpackable
    out: dict[str, Any] = {}
    seen = 0
    for k, v in value.items():
        t = tmpl.get(k, _NOT_IN)
        if t is _NOT_IN:
            out[k] = v
            continue
        seen += 1
        tt = type(t)
        if tt is dict:
            if type(v) is dict:
                packed = _pack_dict(v, t)
                if packed:
                    out[k] = packed
            else:
                out[k] = v
        elif tt is Each:
            out[k] = [_pack_dict(i, t.item) if type(i) is dict else i for i in v] if type(v) is list else v
        elif v is t or (type(v) is tt and v == t and (tt is not list or _same(v, t))):
            continue
        else:
            out[k] = v
    if seen != len(tmpl):
        out[ABSENT_KEY] = [k for k in tmpl if k not in value]
    return out


def _unpack_dict(stored: dict[str, Any], tmpl: dict[str, Any]) -> dict[str, Any]:
    absent = stored.get(ABSENT_KEY, ())
    out: dict[str, Any] = {}
    for k, t in tmpl.items():
        if k in absent:
            continue
        if k not in stored:
            out[k] = _unpack_dict({}, t) if isinstance(t, dict) else _copy(t)
            continue
        v = stored[k]
        if isinstance(t, dict) and isinstance(v, dict):
            out[k] = _unpack_dict(v, t)
        elif isinstance(t, Each) and isinstance(v, list):
            out[k] = [_unpack_dict(i, t.item) if isinstance(i, dict) else i for i in v]
        else:
            out[k] = v
    for k, v in stored.items():
        if k not in tmpl and k != ABSENT_KEY:
            out[k] = v
    return out


def _copy(default: Any) -> Any:
    if isinstance(default, Each):
        return []
    return list(default) if isinstance(default, list) else default


def pack(breakdown: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a breakdown (the breakdown itself when it cannot be packed)."""
    try:
        packed = _pack_dict(breakdown, TEMPLATES[CURRENT])
    except _Unpackable:
        return breakdown
    return {VERSION_KEY: CURRENT, **packed}


def unpack(stored: Any) -> Any:
    """The breakdown a stored value holds (a value stored whole is returned as it is)."""
    if not isinstance(stored, dict) or VERSION_KEY not in stored:
        return stored
    version = stored[VERSION_KEY]
    tmpl = TEMPLATES.get(version) if isinstance(version, int) else None
    if tmpl is None:
        raise ValueError(f"stored breakdown of unknown packing version {version!r} (a newer poas wrote it)")
    return _unpack_dict({k: v for k, v in stored.items() if k != VERSION_KEY}, tmpl)


_COMPONENTS_T: dict[str, Any] = TEMPLATE_V1["components"]


def pack_result(result: ProfitResult) -> dict[str, Any]:
    """`pack(result.to_dict())`, built from the result without building the whole breakdown first
    (an import packs every order's; the lines, most of it, are compared field by field)."""
    t = TEMPLATE_V1
    out: dict[str, Any] = {VERSION_KEY: CURRENT}
    if result.order_id is not None:
        out["order_id"] = result.order_id
    if result.currency != t["currency"]:
        out["currency"] = result.currency
    if result.order_currency != t["order_currency"]:
        out["order_currency"] = result.order_currency
    vat = _pack_dict(result.vat_treatment(), t["vat_treatment"])
    if vat:
        out["vat_treatment"] = vat
    components: dict[str, Any] = {}
    sources = result.sources
    for name in PROFIT_COMPONENTS:
        src = sources.get(name)
        if type(src) is SharedSource:  # a source shared by many orders: packed once
            packed = _shared(name, src)
            amount = str(getattr(result, name).amount)
            if amount != "0.00":
                packed = {"amount": amount, **packed}
            elif packed:
                packed = dict(packed)
        else:
            packed = _pack_dict(result.component(name), _COMPONENTS_T[name])
        if packed:
            components[name] = packed
    if components:
        out["components"] = components
    shipping, paid = str(result.shipping_revenue.amount), str(result.total_paid.amount)
    if shipping != "0.00":
        out["shipping_revenue"] = shipping
    if paid != "0.00":
        out["total_paid"] = paid
    out["lines"] = [_pack_line(ln) for ln in result.lines]
    if result.fx:
        out["fx"] = [u.to_dict() for u in result.fx]
    if result.fallbacks:
        out["fallbacks"] = list(result.fallbacks)
    if result.notes:
        out["notes"] = list(result.notes)
    if result.sendable is not True:
        out["sendable"] = result.sendable
    if result.reason is not None:
        out["reason"] = result.reason
    return out


_SHARED: dict[tuple[str, int], tuple[Mapping[str, Any], dict[str, Any]]] = {}
_SHARED_MAX = 256


def _shared(name: str, src: Mapping[str, Any]) -> dict[str, Any]:
    """The packed entry of a shared read-only source with a zero amount (kept per object: the
    sources are module constants, so their number is small)."""
    hit = _SHARED.get((name, id(src)))
    if hit is not None and hit[0] is src:
        return hit[1]
    packed = _pack_dict({"amount": "0.00", **src}, _COMPONENTS_T[name])
    if len(_SHARED) < _SHARED_MAX:  # read-only sources made per order would not stay few
        _SHARED[(name, id(src))] = (src, packed)
    return packed


def _pack_line(ln: LineProfit) -> dict[str, Any]:
    """`_pack_dict(ln.to_dict(), _LINE)`, field by field."""
    d: dict[str, Any] = {}
    if ln.line_id is not None:
        d["line_id"] = ln.line_id
    if ln.key is not None:
        d["key"] = ln.key
    if not (type(ln.quantity) is int and ln.quantity == 1):
        d["quantity"] = ln.quantity
    if ln.gift_card is not False:
        d["gift_card"] = ln.gift_card
    for name, money in (("revenue_ex_vat", ln.revenue_ex_vat), ("vat", ln.vat)):
        text = str(money.amount)
        if text != "0.00":
            d[name] = text
    if ln.vat_source != "order tax":
        d["vat_source"] = ln.vat_source
    cogs = str(ln.cogs.amount)
    if cogs != "0.00":
        d["cogs"] = cogs
    d["cost"] = dict(ln.cost)
    p_return = str(ln.p_return)
    if p_return != "0":
        d["p_return"] = p_return
    if ln.return_rule is not None:
        d["return_rule"] = ln.return_rule
    handling = str(ln.return_handling.amount)
    if handling != "0.00":
        d["return_handling"] = handling
    restock = str(ln.restock_share)
    if restock != "1":
        d["restock_share"] = restock
    expected = str(ln.expected_return_cost.amount)
    if expected != "0.00":
        d["expected_return_cost"] = expected
    return d
