"""docs/configuration.md lists every setting the code has, and nothing the code lacks."""

from __future__ import annotations

import re
from pathlib import Path

from poas.settings import AttributionSettings, EventSettings, Settings, ShopConfig

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
    assert documented == set(ShopConfig.model_fields) - {"events", "attribution"}


def test_event_keys_match_event_settings() -> None:
    assert _section("## `[shops.events]`") == set(EventSettings.model_fields)


def test_attribution_keys_match_attribution_settings() -> None:
    assert _section("## `[shops.attribution]`") == set(AttributionSettings.model_fields)


def test_attribution_settings_reach_the_attribution_rules() -> None:
    from poas.domain.attribution import AdCatalog, Method, Touch, attribute
    from poas.services.rollups import attribution_config

    shop = ShopConfig.model_validate(
        {"id": "s", "attribution": {"ad_param": "utm_ad", "mapping": {"sommer": "120200000000001"}}}
    )
    config = attribution_config(shop)
    assert config.ad_param == "utm_ad"
    touch = Touch(utm_source="facebook", utm_campaign="sommer")
    got = attribute(touch, AdCatalog(), config)
    assert got.campaign_id == "120200000000001"
    assert got.method is Method.MAPPING
