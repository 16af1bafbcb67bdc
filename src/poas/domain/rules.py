"""Cost rules: payment fees, shipping costs, handling and return rates, each with an id, loaded from TOML.

The TOML format (every section optional; amounts are plain numbers or strings, read as Decimal)::

    currency = "NOK"                      # default currency of every rule below

    [[payment_fees]]                      # percent of the amount paid (incl. VAT and shipping) + fixed
    id = "vipps"                          # named in the profit breakdown (default: payment_fees[0])
    gateway = "vipps"                     # order.gateway, case-insensitive; omit or "*" = default rule
    percent = 2.5                         # 2.5 % (not 0.025)
    fixed = 0
    valid_from = 2024-01-01T00:00:00Z     # optional (TOML datetime or ISO string with a zone)
    valid_to = 2025-01-01T00:00:00Z       # optional, exclusive

    [zones]                               # shipping zones: name = ISO country codes
    domestic = ["NO"]
    nordic = ["SE", "DK", "FI"]

    [[shipping]]                          # the carrier's cost for one parcel, ex VAT
    id = "bring-small"
    method = "bring"                      # the shipping line's method or title, case-insensitive; optional
    zone = "domestic"                     # optional; countries in no zone match only zone-less rules
    min_grams = 0                         # optional, inclusive
    max_grams = 5000                      # optional, exclusive
    cost = 79

    [[handling]]                          # every active handling rule applies (they add up)
    id = "pick-pack"
    per = "order"                         # order | line | unit (gift cards are not picked)
    cost = 10

    [returns]                             # the shop default for lines no rule below matches
    rate = 0.05                           # probability a line comes back (0..1)
    handling_cost = 50                    # cost of receiving one returned line, ex VAT
    restock_share = 0.9                   # share of the goods' cost recovered when it is restocked

    [[returns.rules]]                     # by SKU (wins) or by category
    id = "fashion"
    category = "fashion"                  # or: sku = "SHIRT-1"
    rate = 0.30
    handling_cost = 60                    # optional: the default's
    restock_share = 0.8                   # optional: the default's

Matching: a payment fee rule for the gateway beats the default rule, and among rules for the same
gateway the latest `valid_from` at the order time wins. The shipping rule matching the most fields
(method, then zone, then weight band) wins, then the latest `valid_from`.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from poas.domain.money import CurrencyError, check_currency

ZERO = Decimal(0)
ONE = Decimal(1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RulesError(ValueError):
    """A rules document that cannot be used; the message names the key."""


class HandlingPer(StrEnum):
    ORDER = "order"
    LINE = "line"
    UNIT = "unit"


def _active(valid_from: datetime, valid_to: datetime | None, at: datetime) -> bool:
    return valid_from <= at and (valid_to is None or at < valid_to)


@dataclass(frozen=True, slots=True)
class PaymentFeeRule:
    id: str
    gateway: str | None  # lower case; None = the default rule
    percent: Decimal  # 2.5 means 2.5 %
    fixed: Decimal
    currency: str
    valid_from: datetime = EPOCH
    valid_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class ShippingRule:
    id: str
    cost: Decimal  # ex VAT
    currency: str
    method: str | None = None  # lower case
    zone: str | None = None
    min_grams: int | None = None
    max_grams: int | None = None
    valid_from: datetime = EPOCH
    valid_to: datetime | None = None

    @property
    def specificity(self) -> int:
        band = self.min_grams is not None or self.max_grams is not None
        return (4 if self.method else 0) + (2 if self.zone else 0) + (1 if band else 0)

    def matches(self, method: str | None, zone: str | None, grams: int) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.zone is not None and self.zone != zone:
            return False
        if self.min_grams is not None and grams < self.min_grams:
            return False
        return self.max_grams is None or grams < self.max_grams


@dataclass(frozen=True, slots=True)
class HandlingRule:
    id: str
    per: HandlingPer
    cost: Decimal
    currency: str
    valid_from: datetime = EPOCH
    valid_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReturnRule:
    """Return expectation for a SKU or a category (both None = the shop default)."""

    id: str
    rate: Decimal
    handling_cost: Decimal
    restock_share: Decimal
    currency: str
    sku: str | None = None
    category: str | None = None


DEFAULT_RETURNS_ID = "returns.default"


@dataclass(frozen=True)
class CostRules:
    """All modelled order costs of one shop. Build with `load_rules_toml` or directly."""

    currency: str = "NOK"
    payment_fees: tuple[PaymentFeeRule, ...] = ()
    shipping: tuple[ShippingRule, ...] = ()
    zones: Mapping[str, frozenset[str]] = field(default_factory=dict)
    handling: tuple[HandlingRule, ...] = ()
    returns_default: ReturnRule | None = None
    returns: tuple[ReturnRule, ...] = ()
    _fee_index: dict[str | None, tuple[PaymentFeeRule, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _zone_of: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)
    _return_sku: dict[str, ReturnRule] = field(init=False, repr=False, compare=False, default_factory=dict)
    _return_cat: dict[str, ReturnRule] = field(init=False, repr=False, compare=False, default_factory=dict)
    _shipping_order: tuple[ShippingRule, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        fees: dict[str | None, list[PaymentFeeRule]] = {}
        for fee in self.payment_fees:
            fees.setdefault(fee.gateway, []).append(fee)
        # newest first, so the first active rule is the one in force
        self._fee_index.update(
            {g: tuple(sorted(rs, key=lambda r: r.valid_from, reverse=True)) for g, rs in fees.items()}
        )
        for zone, countries in self.zones.items():
            for country in countries:
                self._zone_of[country.upper()] = zone
        for rule in self.returns:
            if rule.sku is not None:
                self._return_sku[rule.sku] = rule
            elif rule.category is not None:
                self._return_cat[rule.category] = rule
        ordered = sorted(self.shipping, key=lambda r: (r.specificity, r.valid_from), reverse=True)
        object.__setattr__(self, "_shipping_order", tuple(ordered))

    def payment_fee_rule(self, gateway: str | None, at: datetime) -> PaymentFeeRule | None:
        """The gateway's rule in force at `at`, else the default rule's, else None."""
        keys: tuple[str | None, ...] = (gateway.strip().lower(), None) if gateway else (None,)
        for key in keys:
            for rule in self._fee_index.get(key, ()):
                if _active(rule.valid_from, rule.valid_to, at):
                    return rule
        return None

    def zone_of(self, country: str | None) -> str | None:
        return self._zone_of.get(country.upper()) if country else None

    def shipping_rule(
        self, method: str | None, country: str | None, grams: int, at: datetime
    ) -> ShippingRule | None:
        """The most specific active rule matching the method, the country's zone and the weight."""
        m = method.strip().lower() if method else None
        zone = self.zone_of(country)
        for rule in self._shipping_order:
            if _active(rule.valid_from, rule.valid_to, at) and rule.matches(m, zone, grams):
                return rule
        return None

    def handling_rules(self, at: datetime) -> tuple[HandlingRule, ...]:
        return tuple(r for r in self.handling if _active(r.valid_from, r.valid_to, at))

    def return_rule(self, sku: str | None, category: str | None) -> ReturnRule | None:
        """The SKU's rule, else the category's, else the shop default (None if there is none)."""
        if sku is not None and sku in self._return_sku:
            return self._return_sku[sku]
        if category is not None and category in self._return_cat:
            return self._return_cat[category]
        return self.returns_default


# ---- loading -----------------------------------------------------------------------------------


def _dec(value: Any, where: str, *, lo: Decimal | None = ZERO, hi: Decimal | None = None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise RulesError(f"{where}: {value!r} is not a number")
    try:
        result = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise RulesError(f"{where}: {value!r} is not a number") from None
    if not result.is_finite():
        raise RulesError(f"{where}: {value!r} is not a finite number")
    if lo is not None and result < lo:
        raise RulesError(f"{where}: {result} is below {lo}")
    if hi is not None and result > hi:
        raise RulesError(f"{where}: {result} is above {hi}")
    return result


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RulesError(f"{where}: {value!r} must be a whole number of grams >= 0")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RulesError(f"{where}: {value!r} must be a non-empty string")
    return value.strip()


def _time(value: Any, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise RulesError(f"{where}: {value!r} is not an ISO 8601 timestamp") from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        raise RulesError(f"{where}: {value!r} needs a time and a zone, e.g. {value}T00:00:00Z")
    if not isinstance(value, datetime):
        raise RulesError(f"{where}: {value!r} is not a timestamp")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RulesError(f"{where}: {value.isoformat()} has no timezone (add Z or +01:00)")
    return value.astimezone(UTC)


def _currency(value: Any, where: str) -> str:
    try:
        return check_currency(value if isinstance(value, str) else "")
    except CurrencyError as exc:
        raise RulesError(f"{where}: {exc}") from None


def _check_keys(item: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(item) - set(allowed))
    if unknown:
        raise RulesError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(allowed)})")


def _table_list(doc: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = doc.get(name, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise RulesError(f"{name}: must be an array of tables ([[{name}]])")
    return items


def _window(item: Mapping[str, Any], where: str) -> tuple[datetime, datetime | None]:
    start = _time(item["valid_from"], f"{where}.valid_from") if "valid_from" in item else EPOCH
    end = _time(item["valid_to"], f"{where}.valid_to") if "valid_to" in item else None
    if end is not None and end <= start:
        raise RulesError(f"{where}.valid_to: must be after valid_from")
    return start, end


_FEE_KEYS = ("id", "gateway", "percent", "fixed", "currency", "valid_from", "valid_to")
_SHIP_KEYS = ("id", "method", "zone", "min_grams", "max_grams", "cost", "currency", "valid_from", "valid_to")
_HANDLING_KEYS = ("id", "per", "cost", "currency", "valid_from", "valid_to")
_RETURN_KEYS = ("id", "sku", "category", "rate", "handling_cost", "restock_share", "currency")
_TOP_KEYS = ("currency", "payment_fees", "zones", "shipping", "handling", "returns")


def rules_from_dict(doc: Mapping[str, Any]) -> CostRules:
    """Build CostRules from a parsed document (the TOML's shape); errors name the key."""
    _check_keys(doc, _TOP_KEYS, "rules")
    cur = _currency(doc.get("currency", "NOK"), "currency")
    ids: set[str] = set()

    def rule_id(item: Mapping[str, Any], where: str) -> str:
        rid = _str(item["id"], f"{where}.id") if "id" in item else where
        if rid in ids:
            raise RulesError(f"{where}.id: {rid!r} is used twice")
        ids.add(rid)
        return rid

    def money_cur(item: Mapping[str, Any], where: str) -> str:
        return _currency(item["currency"], f"{where}.currency") if "currency" in item else cur

    fees = []
    for i, item in enumerate(_table_list(doc, "payment_fees")):
        where = f"payment_fees[{i}]"
        _check_keys(item, _FEE_KEYS, where)
        gateway = item.get("gateway")
        gw = None if gateway in (None, "*") else _str(gateway, f"{where}.gateway").lower()
        start, end = _window(item, where)
        fees.append(
            PaymentFeeRule(
                id=rule_id(item, where),
                gateway=gw,
                percent=_dec(item.get("percent", 0), f"{where}.percent", hi=Decimal(100)),
                fixed=_dec(item.get("fixed", 0), f"{where}.fixed"),
                currency=money_cur(item, where),
                valid_from=start,
                valid_to=end,
            )
        )

    zones_doc = doc.get("zones", {})
    if not isinstance(zones_doc, dict):
        raise RulesError("zones: must be a table of zone = [country codes]")
    zones: dict[str, frozenset[str]] = {}
    seen_country: dict[str, str] = {}
    for zone, countries in zones_doc.items():
        if not isinstance(countries, list) or not all(isinstance(c, str) for c in countries):
            raise RulesError(f"zones.{zone}: must be a list of ISO country codes")
        for c in countries:
            code = c.strip().upper()
            if len(code) != 2 or not code.isalpha():
                raise RulesError(f"zones.{zone}: {c!r} is not a two-letter country code")
            if code in seen_country:
                raise RulesError(f"zones.{zone}: {code} is already in zone {seen_country[code]!r}")
            seen_country[code] = zone
        zones[zone] = frozenset(c.strip().upper() for c in countries)

    shipping = []
    for i, item in enumerate(_table_list(doc, "shipping")):
        where = f"shipping[{i}]"
        _check_keys(item, _SHIP_KEYS, where)
        zone = _str(item["zone"], f"{where}.zone") if "zone" in item else None
        if zone is not None and zone not in zones:
            raise RulesError(f"{where}.zone: {zone!r} is not defined under [zones]")
        lo = _int(item["min_grams"], f"{where}.min_grams") if "min_grams" in item else None
        hi = _int(item["max_grams"], f"{where}.max_grams") if "max_grams" in item else None
        if lo is not None and hi is not None and hi <= lo:
            raise RulesError(f"{where}.max_grams: must be above min_grams")
        start, end = _window(item, where)
        shipping.append(
            ShippingRule(
                id=rule_id(item, where),
                cost=_dec(item.get("cost"), f"{where}.cost"),
                currency=money_cur(item, where),
                method=_str(item["method"], f"{where}.method").lower() if "method" in item else None,
                zone=zone,
                min_grams=lo,
                max_grams=hi,
                valid_from=start,
                valid_to=end,
            )
        )

    handling = []
    for i, item in enumerate(_table_list(doc, "handling")):
        where = f"handling[{i}]"
        _check_keys(item, _HANDLING_KEYS, where)
        per = item.get("per", "order")
        if per not in {p.value for p in HandlingPer}:
            raise RulesError(f"{where}.per: {per!r} must be order, line or unit")
        start, end = _window(item, where)
        handling.append(
            HandlingRule(
                id=rule_id(item, where),
                per=HandlingPer(per),
                cost=_dec(item.get("cost"), f"{where}.cost"),
                currency=money_cur(item, where),
                valid_from=start,
                valid_to=end,
            )
        )

    returns_doc = doc.get("returns", {})
    if not isinstance(returns_doc, dict):
        raise RulesError("returns: must be a table")
    _check_keys(returns_doc, (*_RETURN_KEYS, "rules"), "returns")
    default = None
    base_handling, base_share = ZERO, ONE
    returns_cur = money_cur(returns_doc, "returns")
    if "handling_cost" in returns_doc:
        base_handling = _dec(returns_doc["handling_cost"], "returns.handling_cost")
    if "restock_share" in returns_doc:
        base_share = _dec(returns_doc["restock_share"], "returns.restock_share", hi=ONE)
    if "rate" in returns_doc:
        default = ReturnRule(
            id=_str(returns_doc.get("id", DEFAULT_RETURNS_ID), "returns.id"),
            rate=_dec(returns_doc["rate"], "returns.rate", hi=ONE),
            handling_cost=base_handling,
            restock_share=base_share,
            currency=returns_cur,
        )
    returns = []
    for i, item in enumerate(_table_list(returns_doc, "rules")):
        where = f"returns.rules[{i}]"
        _check_keys(item, _RETURN_KEYS, where)
        sku = _str(item["sku"], f"{where}.sku") if "sku" in item else None
        category = _str(item["category"], f"{where}.category") if "category" in item else None
        if (sku is None) == (category is None):
            raise RulesError(f"{where}: give exactly one of sku or category")
        if "rate" not in item:
            raise RulesError(f"{where}.rate: missing")
        returns.append(
            ReturnRule(
                id=rule_id(item, where),
                rate=_dec(item["rate"], f"{where}.rate", hi=ONE),
                handling_cost=_dec(item["handling_cost"], f"{where}.handling_cost")
                if "handling_cost" in item
                else base_handling,
                restock_share=_dec(item["restock_share"], f"{where}.restock_share", hi=ONE)
                if "restock_share" in item
                else base_share,
                currency=money_cur(item, where) if "currency" in item else returns_cur,
                sku=sku,
                category=category,
            )
        )
    return CostRules(
        currency=cur,
        payment_fees=tuple(fees),
        shipping=tuple(shipping),
        zones=zones,
        handling=tuple(handling),
        returns_default=default,
        returns=tuple(returns),
    )


def load_rules_toml(text: str) -> CostRules:
    """Parse the TOML format in this module's docstring. Numbers are read as exact Decimals."""
    try:
        doc = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules TOML: {exc}") from None
    return rules_from_dict(doc)


# ---- dumping -----------------------------------------------------------------------------------


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _t(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _window_lines(valid_from: datetime, valid_to: datetime | None) -> list[str]:
    out = [] if valid_from == EPOCH else [f"valid_from = {_t(valid_from)}"]
    if valid_to is not None:
        out.append(f"valid_to = {_t(valid_to)}")
    return out


def dump_rules_toml(rules: CostRules) -> str:
    """Write rules back as TOML that `load_rules_toml` reads to equal rules."""
    out = [f"currency = {_q(rules.currency)}", ""]
    for f in rules.payment_fees:
        out += ["[[payment_fees]]", f"id = {_q(f.id)}", f"gateway = {_q(f.gateway or '*')}"]
        out += [f"percent = {f.percent}", f"fixed = {f.fixed}", f"currency = {_q(f.currency)}"]
        out += [*_window_lines(f.valid_from, f.valid_to), ""]
    if rules.zones:
        out.append("[zones]")
        for zone, countries in sorted(rules.zones.items()):
            out.append(f"{_q(zone)} = [{', '.join(_q(c) for c in sorted(countries))}]")
        out.append("")
    for s in rules.shipping:
        out += ["[[shipping]]", f"id = {_q(s.id)}"]
        if s.method is not None:
            out.append(f"method = {_q(s.method)}")
        if s.zone is not None:
            out.append(f"zone = {_q(s.zone)}")
        if s.min_grams is not None:
            out.append(f"min_grams = {s.min_grams}")
        if s.max_grams is not None:
            out.append(f"max_grams = {s.max_grams}")
        out += [f"cost = {s.cost}", f"currency = {_q(s.currency)}"]
        out += [*_window_lines(s.valid_from, s.valid_to), ""]
    for h in rules.handling:
        out += ["[[handling]]", f"id = {_q(h.id)}", f"per = {_q(h.per.value)}", f"cost = {h.cost}"]
        out += [f"currency = {_q(h.currency)}", *_window_lines(h.valid_from, h.valid_to), ""]
    d = rules.returns_default
    if d is not None or rules.returns:
        out.append("[returns]")
        if d is not None:
            out += [f"id = {_q(d.id)}", f"rate = {d.rate}", f"handling_cost = {d.handling_cost}"]
            out += [f"restock_share = {d.restock_share}", f"currency = {_q(d.currency)}"]
        out.append("")
    for r in rules.returns:
        out += ["[[returns.rules]]", f"id = {_q(r.id)}"]
        out.append(f"sku = {_q(r.sku)}" if r.sku is not None else f"category = {_q(r.category or '')}")
        out += [f"rate = {r.rate}", f"handling_cost = {r.handling_cost}"]
        out += [f"restock_share = {r.restock_share}", f"currency = {_q(r.currency)}", ""]
    return "\n".join(out).rstrip() + "\n"
