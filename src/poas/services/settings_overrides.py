"""Shop settings changed in the dashboard: stored in the database, applied over poas.toml.

Rule (docs/configuration.md, "Settings changed in the dashboard"): a few shop settings that are safe
to change while poas runs (`EDITABLE`) may be set on the Settings page. The change is stored in the
database (`settings_overrides`, with an audit row in `settings_changes`: who, when, old and new), not
written into poas.toml, so every process that shares the database sees it: the web on its next
request, the worker on its next pass and every CLI command that names a shop. A stored value wins
over the file; "use the file's value" deletes the override. Values are checked by the same
`ShopConfig` validation as the file, and a stored value that no longer validates (the file changed
underneath it) is ignored, with a warning, instead of stopping the process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, delete, select

from poas.settings import ConsentDefault, MissingCostPolicy, Settings, ShopConfig
from poas.store.orders import upsert_insert
from poas.store.tables.settings_overrides import settings_changes, settings_overrides

log = structlog.get_logger(__name__)

FILE = ""  # the form value meaning "no override: as poas.toml says"


class SettingError(ValueError):
    """A value the setting does not accept; the message is shown as it is."""


@dataclass(frozen=True)
class Editable:
    key: str
    label: str
    help: str
    choices: tuple[str, ...] = ()  # empty: free text parsed by `parse`
    parse: Callable[[str], Any] = str
    # Other fields set along with this one (e.g. the older consent_policy goes when consent_default is set).
    also: Mapping[str, Any] | None = None


def _decimal(low: Decimal, high: Decimal, what: str) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        try:
            value = Decimal(text.strip().replace(",", ".").replace("\u00a0", "").replace(" ", ""))
        except InvalidOperation:
            raise SettingError(f"{text[:20]!r} is not a number") from None
        if not value.is_finite() or not low <= value <= high:
            raise SettingError(f"{what} must be between {low} and {high}")
        return value

    return parse


_CANDIDATES = (
    Editable(
        "consent_default",
        "Ads consent for orders without a consent signal",
        "granted: such orders are sent to Meta; denied: they are not. Per-region defaults in poas.toml "
        "still win for their regions.",
        choices=tuple(c.value for c in ConsentDefault),
        also={"consent_policy": None},
    ),
    Editable(
        "missing_cost",
        "When a product has no cost",
        "skip: send no profit for the order; fallback_margin: use the default margin, flagged; block: "
        "refuse the order until a cost exists.",
        choices=tuple(p.value for p in MissingCostPolicy),
    ),
    Editable(
        "default_margin",
        "Fallback margin",
        "The margin (0 to 1, e.g. 0.4) the fallback_margin policy assumes for a product without a cost.",
        parse=_decimal(Decimal(0), Decimal(1), "the margin"),
    ),
    Editable(
        "target_poas",
        "Target POAS",
        "The POAS a campaign should reach (1 = break-even); advice and colours compare with it.",
        parse=_decimal(Decimal(0), Decimal(100), "the target POAS"),
    ),
    Editable(
        "pause_below_poas",
        "Pause below POAS",
        'Advice says "pause" for a campaign whose POAS is below this (it must be below the target).',
        parse=_decimal(Decimal(0), Decimal(100), "the pause threshold"),
    ),
    Editable(
        "decision_basis",
        "Profit basis for decisions",
        "expected: profit after expected returns; gross: before them. Colours, flags, sorting and advice "
        "use it; the other is shown beside it.",
    ),
)


def editable() -> list[Editable]:
    """The settings the dashboard may change: those of `_CANDIDATES` that ShopConfig has."""
    fields = ShopConfig.model_fields
    out = []
    for e in _CANDIDATES:
        if e.key not in fields:
            continue
        if not e.choices:
            choices = _enum_choices(fields[e.key].annotation)
            if choices:
                e = Editable(e.key, e.label, e.help, choices, e.parse, e.also)
        out.append(e)
    return out


def _enum_choices(annotation: Any) -> tuple[str, ...]:
    """The values of an enum or Literal field (possibly Optional), else ()."""
    import enum
    import typing

    args = typing.get_args(annotation) or (annotation,)
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(a) for a in args)
    for a in args:
        if isinstance(a, type) and issubclass(a, enum.Enum):
            return tuple(str(m.value) for m in a)
        if typing.get_origin(a) is typing.Literal:
            return tuple(str(x) for x in typing.get_args(a))
    return ()


def find(key: str) -> Editable:
    for e in editable():
        if e.key == key:
            return e
    raise SettingError(f"{key[:40]!r} cannot be changed in the dashboard (edit poas.toml)")


def _json(value: Any) -> str:
    if isinstance(value, Decimal):
        return json.dumps(str(value))
    if hasattr(value, "value"):  # an enum
        return json.dumps(value.value)
    return json.dumps(value)


def load_overrides(conn: Connection) -> dict[str, dict[str, Any]]:
    """shop id -> {key: value} as stored (JSON decoded)."""
    out: dict[str, dict[str, Any]] = {}
    t = settings_overrides.c
    for shop_id, key, value in conn.execute(select(t.shop_id, t.key, t.value)):
        out.setdefault(shop_id, {})[key] = json.loads(value)
    return out


def _merged(shop: ShopConfig, values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The shop's fields with `values` (and what they imply) set; None when a key is not editable."""
    known = {e.key: e for e in editable()}
    data = shop.model_dump()
    for key, value in values.items():
        e = known.get(key)
        if e is None:
            return None
        data.update(e.also or {})
        data[key] = value
    return data


def _apply_shop(shop: ShopConfig, values: Mapping[str, Any]) -> ShopConfig:
    """`shop` with the stored `values`: all together when they validate together, else each one that
    validates on its own (the others are logged and ignored)."""
    if not values:
        return shop
    together = _merged(shop, values)
    if together is not None:
        try:
            return ShopConfig.model_validate(together)
        except ValidationError:
            pass
    for key, value in values.items():
        trial = _merged(shop, {key: value})
        if trial is None:
            log.warning("settings override ignored: not editable", shop=shop.id, key=key)
            continue
        try:
            shop = ShopConfig.model_validate(trial)
        except ValidationError as exc:
            log.warning("settings override ignored", shop=shop.id, key=key, error=_first_error(exc))
    return shop


_last: tuple[Settings, str, Settings] | None = None


def apply_overrides(settings: Settings, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
    """A copy of `settings` whose shops carry the stored overrides (`settings` itself when none)."""
    global _last
    if not any(overrides.get(s.id) for s in settings.shops):
        return settings
    fingerprint = json.dumps(overrides, sort_keys=True, default=str)
    last = _last
    if last is not None and last[0] is settings and last[1] == fingerprint:
        return last[2]
    shops = [_apply_shop(s, overrides.get(s.id, {})) for s in settings.shops]
    result = settings.model_copy(update={"shops": shops})
    _last = (settings, fingerprint, result)
    return result


def effective_settings(settings: Settings, engine: Engine) -> Settings:
    """`settings` (as loaded from the environment and poas.toml) with the dashboard's changes."""
    with engine.connect() as conn:
        overrides = load_overrides(conn)
    return apply_overrides(settings, overrides)


def effective_shop(shop: ShopConfig, engine: Engine) -> ShopConfig:
    with engine.connect() as conn:
        t = settings_overrides.c
        rows = conn.execute(select(t.key, t.value).where(t.shop_id == shop.id)).all()
    return _apply_shop(shop, {k: json.loads(v) for k, v in rows})


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_input=False)[0]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return msg


@dataclass(frozen=True)
class Change:
    id: int
    shop_id: str
    key: str
    old_value: Any  # None: as poas.toml said
    new_value: Any  # None: back to poas.toml
    changed_at: datetime
    changed_by: str


def parse_value(shop: ShopConfig, key: str, text: str, others: Mapping[str, Any] | None = None) -> Any:
    """The value the form's `text` stands for (None: use the file's), checked against the whole shop
    with the shop's `others` stored changes. Raises SettingError with a message for the page."""
    e = find(key)
    text = text.strip()
    if text == FILE:
        return None
    if e.choices:
        if text not in e.choices:
            raise SettingError(f"{e.label}: choose one of {', '.join(e.choices)}")
        value: Any = text
    else:
        try:
            value = e.parse(text)
        except SettingError as exc:
            raise SettingError(f"{e.label}: {exc}") from None
    trial = _merged(shop, {**(others or {}), key: value})
    try:
        ShopConfig.model_validate(trial)
    except ValidationError as exc:
        raise SettingError(f"{e.label}: {_first_error(exc)}") from None
    return value


def set_setting(
    engine: Engine, base_shop: ShopConfig, key: str, text: str, *, by: str, now: datetime
) -> Change | None:
    """Store (or, for FILE, remove) the shop's override of `key`, with an audit row. `base_shop` is
    the shop as poas.toml gives it; the value is checked together with the shop's other changes.
    None when the stored value did not change. Raises SettingError."""
    t, c = settings_overrides.c, settings_changes.c
    with engine.begin() as conn:
        stored = {
            k: v for k, v in conn.execute(select(t.key, t.value).where(t.shop_id == base_shop.id)).all()
        }
        old = stored.pop(key, None)
        # Checked with the shop's other changes: the combination must hold (pause below target).
        others = {k: json.loads(v) for k, v in stored.items() if k in {e.key for e in editable()}}
        value = parse_value(base_shop, key, text, others)
        new = None if value is None else _json(value)
        if old == new:
            return None
        if new is None:
            conn.execute(delete(settings_overrides).where(t.shop_id == base_shop.id, t.key == key))
        else:
            stmt = upsert_insert(conn, settings_overrides)
            stmt = stmt.on_conflict_do_update(
                index_elements=["shop_id", "key"],
                set_={"value": stmt.excluded.value, "changed_at": now, "changed_by": by},
            )
            conn.execute(
                stmt, {"shop_id": base_shop.id, "key": key, "value": new, "changed_at": now, "changed_by": by}
            )
        row_id = conn.execute(
            settings_changes.insert().returning(c.id),
            {"shop_id": base_shop.id, "key": key, "old_value": old, "new_value": new, "changed_at": now,
             "changed_by": by},
        ).scalar_one()  # fmt: skip
    return Change(
        int(row_id),
        base_shop.id,
        key,
        None if old is None else json.loads(old),
        value,
        now,
        by,
    )


def changes(engine: Engine, shop_id: str | None = None, *, limit: int = 50) -> list[Change]:
    """The newest changes first (of one shop, or all)."""
    c = settings_changes.c
    stmt = select(settings_changes).order_by(c.id.desc()).limit(limit)
    if shop_id is not None:
        stmt = stmt.where(c.shop_id == shop_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        Change(
            r.id,
            r.shop_id,
            r.key,
            None if r.old_value is None else json.loads(r.old_value),
            None if r.new_value is None else json.loads(r.new_value),
            r.changed_at,
            r.changed_by,
        )
        for r in rows
    ]
