"""A Shopify shop's connection settings: secrets from the environment or `*_file`, the admin URL and
API version from POAS_SHOPIFY_*."""

from __future__ import annotations

from pathlib import Path

import pytest

from poas.settings import load_settings


def test_shopify_secrets_come_from_the_environment_or_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "client_secret"
    secret.write_text("shpss_from_file\n")
    config = tmp_path / "poas.toml"
    config.write_text(
        '[[shops]]\nid = "nordlys"\nplatform = "shopify"\ndomain = "nordlys.myshopify.com"\n'
        f'shopify_client_id = "cid"\nshopify_client_secret_file = "{secret}"\n'
        '[[shops]]\nid = "old-shop"\nplatform = "shopify"\n'
    )
    monkeypatch.setenv("POAS_SHOP_OLD_SHOP_SHOPIFY_TOKEN", "shpat_from_env")
    monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", "http://127.0.0.1:8556")
    settings = load_settings(config)
    nordlys, old = settings.shops
    assert nordlys.shopify_client_secret is not None
    assert nordlys.shopify_client_secret.get_secret_value() == "shpss_from_file"
    assert old.shopify_token is not None and old.shopify_token.get_secret_value() == "shpat_from_env"
    assert "shpat_from_env" not in repr(old)
    assert settings.shopify_admin_url == "http://127.0.0.1:8556"
    assert settings.shopify_api_version == "2026-10"
