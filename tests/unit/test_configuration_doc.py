"""docs/configuration.md lists every setting the code has, and nothing the code lacks."""

from __future__ import annotations

import re
from pathlib import Path

from poas.settings import EventSettings, Settings, ShopConfig

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()


def _section(title: str) -> set[str]:
    body = DOC.split(title, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", body, flags=re.M))


def test_environment_variables_match_settings() -> None:
    documented = {k for k in _section("## Environment") if not k.startswith("POAS_SHOP_")}
    expected = {f"POAS_{name.upper()}" for name in Settings.model_fields if name != "shops"}
    assert documented == expected


def test_shop_keys_match_shop_config() -> None:
    documented = _section("## `[[shops]]`") - {"<secret>_file"}
    assert documented == set(ShopConfig.model_fields) - {"events"}


def test_event_keys_match_event_settings() -> None:
    assert _section("## `[shops.events]`") == set(EventSettings.model_fields)
