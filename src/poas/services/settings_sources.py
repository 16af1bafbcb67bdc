"""Where a shop's dashboard-editable settings come from: poas.toml, or a change made in the dashboard
(services.settings_overrides). `poas doctor` and `poas shops` show the effective values with it, as
the web, the worker and the other commands use them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from poas.services.settings_overrides import apply_overrides, editable, load_overrides
from poas.settings import Settings, ShopConfig

FILE_SOURCE = "poas.toml"
DASHBOARD = "dashboard"


@dataclass(frozen=True, slots=True)
class SettingSource:
    key: str
    value: Any  # the effective value
    source: str  # FILE_SOURCE or DASHBOARD
    file_value: Any  # as poas.toml (or the environment, or the default) gives it
    ignored: Any = None  # a stored dashboard value no longer valid (hence not applied), else None

    @property
    def text(self) -> str:
        """`missing_cost=skip`, `default_margin=0.4 (dashboard; poas.toml: -)`."""
        out = f"{self.key}={value_text(self.value)}"
        if self.source == DASHBOARD:
            out += f" (dashboard; {FILE_SOURCE}: {value_text(self.file_value)})"
        elif self.ignored is not None:
            out += f" (dashboard value {value_text(self.ignored)} ignored: no longer valid)"
        return out


def value_text(value: Any) -> str:
    if value is None:
        return "-"
    return str(getattr(value, "value", value))


@dataclass(frozen=True, slots=True)
class ShopSources:
    shop: ShopConfig  # with the dashboard's changes applied
    settings: list[SettingSource]  # every editable setting, in the Settings page's order

    @property
    def from_dashboard(self) -> list[SettingSource]:
        return [s for s in self.settings if s.source == DASHBOARD]

    @property
    def ignored(self) -> list[SettingSource]:
        return [s for s in self.settings if s.ignored is not None]


def effective_with_sources(settings: Settings, engine: Engine) -> tuple[Settings, dict[str, ShopSources]]:
    """`settings` with the dashboard's changes applied (as every process applies them), and per shop
    each editable setting's effective value and where it comes from."""
    with engine.connect() as conn:
        stored = load_overrides(conn)
    effective = apply_overrides(settings, stored)
    sources: dict[str, ShopSources] = {}
    for base, shop in zip(settings.shops, effective.shops, strict=True):
        values = stored.get(base.id, {})
        rows = []
        for e in editable():
            value, file_value = getattr(shop, e.key), getattr(base, e.key)
            if e.key not in values:
                rows.append(SettingSource(e.key, value, FILE_SOURCE, file_value))
            elif value_text(value) == value_text(values[e.key]):
                rows.append(SettingSource(e.key, value, DASHBOARD, file_value))
            else:
                rows.append(SettingSource(e.key, value, FILE_SOURCE, file_value, ignored=values[e.key]))
        sources[base.id] = ShopSources(shop, rows)
    return effective, sources


def effective_or_file(
    settings: Settings, open_store: Callable[[], Engine]
) -> tuple[Settings, dict[str, ShopSources] | None, str | None]:
    """`effective_with_sources` on the store `open_store` gives; when the store does not answer, the
    file's settings, no sources, and a note saying the dashboard's changes could not be read."""
    try:
        effective, sources = effective_with_sources(settings, open_store())
    except (SQLAlchemyError, OSError) as exc:
        return (
            settings,
            None,
            (
                f"the database did not answer ({type(exc).__name__}): shown as {FILE_SOURCE} says, "
                "without the settings changed in the dashboard"
            ),
        )
    return effective, sources, None
