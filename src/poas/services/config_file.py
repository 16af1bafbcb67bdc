"""`poas init`: the first `poas.toml`, written with one shop and checked by the real settings loader,
and the example configuration that ships in the package."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from poas.domain.money import check_currency
from poas.settings import ConfigError, Settings, load_settings

PLATFORMS = ("shopify", "woocommerce", "api")
_SHOP_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_PIXEL = re.compile(r"^\d{5,20}$")
_AD_ACCOUNT = re.compile(r"^(act_)?\d{5,20}$")


class InitError(ValueError):
    """A value `poas init` cannot write, or a file it will not overwrite."""


def example_config() -> str:
    """The example configuration shipped with poas (every setting, three example shops)."""
    return resources.files("poas").joinpath("data", "poas.example.toml").read_text(encoding="utf-8")


def env_id(shop_id: str) -> str:
    """The `<ID>` in `POAS_SHOP_<ID>_<FIELD>` (settings._apply_secret_env)."""
    return shop_id.upper().replace("-", "_").replace(".", "_")


@dataclass(frozen=True)
class FirstShop:
    id: str
    platform: str
    domain: str = ""
    currency: str = "NOK"
    timezone: str = "Europe/Oslo"
    prices_include_vat: bool = True
    pixel_id: str = ""
    ad_account_id: str = ""


def check_shop_id(value: str) -> str:
    v = value.strip()
    if not _SHOP_ID.match(v):
        raise InitError(
            f"shop id {value[:40]!r}: use 1 to 63 lower-case letters, digits, '.', '_' or '-' "
            "(it becomes part of the webhook URL /webhooks/<platform>/<id>)"
        )
    return v


def check_platform(value: str) -> str:
    v = value.strip().lower()
    if v not in PLATFORMS:
        raise InitError(f"platform {value[:20]!r}: use one of {', '.join(PLATFORMS)}")
    return v


def check_domain(value: str, platform: str) -> str:
    v = value.strip().lower()
    for prefix in ("https://", "http://"):
        v = v.removeprefix(prefix)
    v = v.rstrip("/")
    if platform == "api":
        return v
    if not v or "/" in v or " " in v or "." not in v:
        raise InitError(f"domain {value[:60]!r}: give the shop's host name, e.g. nordlys.myshopify.com")
    if platform == "shopify" and not v.endswith(".myshopify.com"):
        raise InitError(f"domain {v!r}: a Shopify store's admin domain ends in .myshopify.com")
    return v


def check_timezone(value: str) -> str:
    v = value.strip()
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise InitError(f"timezone {value[:40]!r}: use an IANA name such as Europe/Oslo") from None
    return v


def check_pixel_id(value: str) -> str:
    v = value.strip()
    if v and not _PIXEL.match(v):
        raise InitError(f"pixel id {value[:30]!r}: the numeric dataset id from Events Manager")
    return v


def check_ad_account_id(value: str) -> str:
    v = value.strip()
    if v and not _AD_ACCOUNT.match(v):
        raise InitError(f"ad account id {value[:30]!r}: act_ followed by digits, e.g. act_1234567890")
    return v if not v or v.startswith("act_") else f"act_{v}"


def checked(shop: FirstShop) -> FirstShop:
    """The shop with every value checked and tidied; InitError names the first bad one."""
    platform = check_platform(shop.platform)
    try:
        currency = check_currency(shop.currency.strip().upper())
    except ValueError as exc:
        raise InitError(str(exc)) from None
    return FirstShop(
        id=check_shop_id(shop.id),
        platform=platform,
        domain=check_domain(shop.domain, platform),
        currency=currency,
        timezone=check_timezone(shop.timezone),
        prices_include_vat=shop.prices_include_vat,
        pixel_id=check_pixel_id(shop.pixel_id),
        ad_account_id=check_ad_account_id(shop.ad_account_id),
    )


def render_config(shop: FirstShop) -> str:
    """A poas.toml holding one shop; secrets stay outside it (environment or *_file)."""
    s = checked(shop)
    env = f"POAS_SHOP_{env_id(s.id)}"

    def q(v: str) -> str:
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string

    lines = [
        "# poas configuration, written by `poas init`. Every setting: `poas init --example`.",
        "# Secrets stay out of this file: set them in the environment (or name a file with <field>_file):",
    ]
    if s.platform in ("shopify", "woocommerce"):
        lines.append(f"#   {env}_WEBHOOK_SECRETS   the secret the shop signs its webhooks with")
    if s.platform == "api":
        lines.append(f"#   {env}_API_TOKEN         the bearer token your system posts orders with")
    lines += [
        f"#   {env}_ACCESS_TOKEN      the Conversions API access token (Events Manager)",
        f"#   {env}_APP_SECRET        optional: the app secret, for appsecret_proof",
        "",
        "[[shops]]",
        f"id = {q(s.id)}",
        f"platform = {q(s.platform)}",
    ]
    if s.domain:
        lines.append(f"domain = {q(s.domain)}")
    lines += [
        f"currency = {q(s.currency)}",
        f"timezone = {q(s.timezone)}",
        f"prices_include_vat = {'true' if s.prices_include_vat else 'false'}",
    ]
    if s.pixel_id:
        lines.append(f"pixel_id = {q(s.pixel_id)}")
    if s.ad_account_id:
        lines.append(f"ad_account_id = {q(s.ad_account_id)}")
    lines += ['missing_cost = "fallback_margin"         # skip | fallback_margin | block', ""]
    return "\n".join(lines)


def config_target(output: Path | None = None) -> Path:
    """Where `poas init` writes: --output, else POAS_CONFIG_FILE, else $POAS_HOME/poas.toml."""
    return output or Settings().config_path()


def validate_config_text(text: str, path: Path) -> None:
    """Load `text` with the real settings loader (from a file beside `path`); InitError says why not."""
    probe = path.with_name(f".{path.name}.init-check")
    probe.write_text(text, encoding="utf-8")
    try:
        load_settings(probe)
    except (ConfigError, ValidationError) as exc:
        raise InitError(f"the configuration does not load: {exc}") from None
    finally:
        probe.unlink(missing_ok=True)


def write_config(path: Path, text: str, *, force: bool = False, validate: bool = True) -> Path | None:
    """Write `text` to `path`, first loaded with the settings loader when `validate`. An existing file
    is kept unless `force`, and then moved to a timestamped backup first, whose path is returned."""
    if path.exists() and not force:
        raise InitError(f"{path} exists: keep it, or pass --force (the old file is kept as a backup)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if validate:
        validate_config_text(text, path)
    backup = None
    if path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        n = 1
        while backup.exists():
            backup = path.with_name(f"{path.name}.bak-{stamp}-{n}")
            n += 1
        os.replace(path, backup)
    path.write_text(text, encoding="utf-8")
    return backup


def next_command(shop: FirstShop) -> str:
    """What to run after `poas init` for this shop."""
    if shop.platform == "shopify":
        return (
            f"poas connect shopify {shop.id} --store {shop.domain} --token shpat_… "
            "--public-url https://<your poas>"
        )
    if shop.platform == "woocommerce":
        return (
            f"poas connect woocommerce {shop.id} --url https://{shop.domain} --key ck_… --secret cs_… "
            "--public-url https://<your poas>"
        )
    return "poas demo"
