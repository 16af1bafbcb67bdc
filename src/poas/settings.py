"""Settings: environment (`POAS_…`) plus a TOML file holding the shops.

Secrets (webhook secrets, access tokens, API tokens) are `SecretStr`: they print masked and are
read from the environment or a secrets file, never written to logs.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from poas.domain.consent import DEFAULT_SIGNAL_KEYS, normalize_region
from poas.domain.destinations import normalize_customer_id
from poas.domain.money import check_currency


class ConsentPolicy(StrEnum):
    """The older consent setting, still read (docs/configuration.md, "Ads consent")."""

    REQUIRE_EXPLICIT = "require_explicit"  # = consent_default "denied"
    ALLOW_UNLESS_DENIED = "allow_unless_denied"  # = consent_default "granted"
    ALWAYS = "always"  # send whatever the order says: consent is gated elsewhere (banner on the Pixel)


class ConsentDefault(StrEnum):
    """Ads-measurement consent for an order that carries no consent signal."""

    GRANTED = "granted"
    DENIED = "denied"


class MissingCostPolicy(StrEnum):
    SKIP = "skip"  # send no profit for the order
    FALLBACK_MARGIN = "fallback_margin"  # use the category's or the shop's default margin, flagged
    BLOCK = "block"  # refuse the order until a cost exists


class ValueBasis(StrEnum):
    """What the Purchase `value` carries, so it matches what the shop's Pixel sends."""

    TOTAL = "total"  # total paid incl. VAT and shipping (Shopify's Pixel default)
    SUBTOTAL = "subtotal"  # lines after discounts incl. VAT, no shipping
    REVENUE_EX_VAT = "revenue_ex_vat"
    PROFIT = "profit"


class EventSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purchase_topic: Literal["create", "paid"] = "paid"
    value_basis: ValueBasis = ValueBasis.TOTAL
    event_id_template: str = "{order_id}"
    profit_event_name: str | None = None  # e.g. "ProfitPurchase": also send profit as a custom event
    send_purchase: bool = True
    action_source: str = "website"
    event_source_url: str | None = None  # default https://{domain}/ when the order has none
    ldu: bool = False  # Limited Data Use
    ldu_country: int = 0
    ldu_state: int = 0
    ldu_regions: list[str] = Field(default_factory=list)  # LDU for orders from these (US, US-CA …)
    test_event_code: str | None = None
    append_window_days: int = 7
    append_threshold: Decimal = Decimal("1")  # min |final - sent| that triggers AppendValue
    negative_profit: Literal["zero", "send"] = "zero"
    return_window_days: int = 30
    finalize_on_refund: bool = False

    @field_validator("ldu_regions")
    @classmethod
    def _ldu_regions(cls, v: list[str]) -> list[str]:
        out = []
        for key in v:
            region = normalize_region(key)
            if region is None or not (region == "US" or region.startswith("US-")):
                raise ValueError(
                    f"events.ldu_regions: {key[:20]!r} is not US or a US state (US-CA, US-CO …); "
                    "Meta's Limited Data Use applies to US states only"
                )
            out.append(region)
        return out


class CustomerValueSettings(BaseModel):
    """A new customer's predicted value on her Purchase (docs/metrics.md#predicted-value): the model
    is the shop's `poas customers fit`. Off by default; `poas doctor` checks Meta's pLTV requirements."""

    model_config = ConfigDict(extra="forbid")

    predicted_ltv: bool = False  # custom_data.predicted_ltv on a new customer's Purchase
    # "new-customer value" basis: net_revenue (and AppendValue) add this share of the predicted
    # future profit of a new customer; 0 = off
    new_customer_share: Decimal = Field(Decimal(0), ge=0, le=1)
    horizon_days: int = Field(365, ge=30, le=1825)


class AttributionSettings(BaseModel):
    """Which UTM parameter carries which Meta id (docs/attribution.md)."""

    model_config = ConfigDict(extra="forbid")

    campaign_param: str = "utm_campaign"
    adset_param: str = "utm_term"
    ad_param: str = "utm_content"
    id_param: str = "utm_id"
    mapping: dict[str, str] = Field(default_factory=dict)  # utm_campaign value -> campaign id
    match_names: bool = True
    require_meta_source: bool = True


class GoogleConversionAction(BaseModel):
    """One Google Ads conversion action the shop's orders go to (docs/google.md): `value` = "profit"
    (expected profit at purchase, restated to the final profit) or "revenue" (revenue ex VAT, restated
    to what is left after refunds): the two-action setup sends both to two actions."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str  # the operating Google Ads account, 10 digits (dashes allowed here)
    conversion_action_id: str
    value: Literal["profit", "revenue"] = "profit"

    @field_validator("customer_id")
    @classmethod
    def _customer(cls, v: str) -> str:
        return normalize_customer_id(v)

    @field_validator("conversion_action_id")
    @classmethod
    def _action(cls, v: str) -> str:
        if not v.strip().isdigit():
            raise ValueError("conversion_action_id is the numeric id of the conversion action")
        return v.strip()


class GoogleSettings(BaseModel):
    """Google Ads destinations of a shop and the OAuth client that sends to them (Data Manager API)."""

    model_config = ConfigDict(extra="forbid")

    conversion_actions: list[GoogleConversionAction] = Field(default_factory=list)
    client_id: str = ""
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    login_customer_id: str | None = None  # a manager account the access goes through
    validate_only: bool = False  # Google checks the requests but ingests nothing
    restate_window_days: int = Field(60, ge=0, le=3650)  # restate a conversion at most this long after it
    # "google_ads_api": restatements and retractions through the Google Ads API's
    # ConversionAdjustmentUploadService (accounts Google still allows on it; google_ads_* credentials
    # and developer token); "data_manager": restated through the Data Manager API (no retraction)
    adjustments: Literal["data_manager", "google_ads_api"] = "data_manager"

    @field_validator("login_customer_id")
    @classmethod
    def _login(cls, v: str | None) -> str | None:
        return normalize_customer_id(v) if v else None


class ShopConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    platform: Literal["shopify", "woocommerce", "api"] = "api"
    domain: str = ""
    currency: str = "NOK"
    timezone: str = "Europe/Oslo"
    earliest_order_date: date = date(2000, 1, 1)  # order/refund times before it are refused at intake
    prices_include_vat: bool = True
    default_vat_rate: Decimal = Decimal("0.25")
    include_shipping_in_revenue: bool = True
    webhook_secrets: list[SecretStr] = Field(default_factory=list)  # two during a rotation
    api_token: SecretStr | None = None
    pixel_id: str | None = None
    access_token: SecretStr | None = None
    app_secret: SecretStr | None = None
    ad_account_id: str | None = None
    # Google Ads spend (`poas spend sync --channel google`, docs/google.md#spend)
    google_ads_customer_id: str = ""  # the advertiser account, 123-456-7890
    google_ads_login_customer_id: str = ""  # the manager (MCC) account it is reached through, if any
    google_ads_client_id: str = ""  # the OAuth client (Google Cloud project) poas signs in with
    google_ads_client_secret: SecretStr | None = None
    google_ads_refresh_token: SecretStr | None = None  # scope https://www.googleapis.com/auth/adwords
    google_ads_developer_token: SecretStr | None = None  # sent when set (older API access)
    woocommerce_url: str = ""  # the site's base URL (`poas connect woocommerce` sets it)
    customer_value: CustomerValueSettings = Field(default_factory=CustomerValueSettings)
    woocommerce_key: SecretStr | None = None  # REST API consumer key (ck_…)
    woocommerce_secret: SecretStr | None = None  # REST API consumer secret (cs_…)
    shopify_client_id: str = ""  # a Dev Dashboard app's client id (`poas connect shopify` sets it)
    shopify_client_secret: SecretStr | None = None  # its client secret (tokens; signs its webhooks)
    shopify_token: SecretStr | None = None  # or a legacy custom app's static Admin API token (shpat_…)
    woocommerce_cost_meta_keys: list[str] = Field(  # product meta keys holding a COGS plugin's unit cost
        default_factory=lambda: ["_wc_cog_cost", "_alg_wc_cog_cost"]
    )
    consent_policy: ConsentPolicy | None = None  # older setting; see docs/configuration.md
    consent_default: ConsentDefault | None = None  # None: granted (denied under require_explicit)
    consent_default_by_region: dict[str, ConsentDefault] = Field(default_factory=dict)
    consent_attribute_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_SIGNAL_KEYS))
    consent_meta_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_SIGNAL_KEYS))
    missing_cost: MissingCostPolicy = MissingCostPolicy.FALLBACK_MARGIN
    default_margin: Decimal | None = None  # used by the fallback_margin policy
    category_margins: dict[str, Decimal] = Field(default_factory=dict)
    decision_basis: Literal["expected", "gross"] = "expected"  # profit that colours, flags and advice use
    target_poas: Decimal = Field(Decimal("1.5"), gt=0, le=100)  # advice moves spend toward campaigns above it
    pause_below_poas: Decimal = Field(Decimal("0.5"), ge=0, le=100)  # advice says "pause" below it
    events: EventSettings = Field(default_factory=EventSettings)
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)
    google: GoogleSettings = Field(default_factory=GoogleSettings)

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return check_currency(v)

    @field_validator("earliest_order_date")
    @classmethod
    def _earliest_order_date(cls, v: date) -> date:
        if not date(1970, 1, 1) <= v <= date(2100, 1, 1):
            raise ValueError(f"earliest_order_date: {v} is not between 1970-01-01 and 2100-01-01")
        return v

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _secrets(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("consent_default_by_region")
    @classmethod
    def _consent_regions(cls, v: dict[str, ConsentDefault]) -> dict[str, ConsentDefault]:
        out: dict[str, ConsentDefault] = {}
        for key, value in v.items():
            region = normalize_region(key)
            if region is None:
                raise ValueError(
                    f"consent_default_by_region: unknown region {key[:20]!r} (use a country code like "
                    "NO, a US/Canadian state like US-CA, or EEA / EU)"
                )
            out[region] = value
        return out

    @field_validator("consent_attribute_keys", "consent_meta_keys")
    @classmethod
    def _consent_keys(cls, v: list[str], info: ValidationInfo) -> list[str]:
        for key in v:
            if not key.strip() or len(key) > 100:
                raise ValueError(f"{info.field_name}: {key[:20]!r} is not a key (1 to 100 characters)")
        return [key.strip() for key in v]

    @model_validator(mode="after")
    def _pause_below_target(self) -> ShopConfig:
        if self.pause_below_poas >= self.target_poas:
            raise ValueError(
                f"pause_below_poas {self.pause_below_poas} must be below target_poas {self.target_poas}"
            )
        return self

    @model_validator(mode="after")
    def _consent_policy_agrees(self) -> ShopConfig:
        policy, default = self.consent_policy, self.consent_default
        implied = {"require_explicit": "denied", "allow_unless_denied": "granted"}.get(str(policy))
        if default is not None and (policy == "always" or (implied and implied != default)):
            raise ValueError(
                f"consent_policy {policy} and consent_default {default} disagree: keep consent_default "
                "(and consent_default_by_region) and remove consent_policy"
            )
        return self


LOGIN_WINDOW_MAX_S = 365 * 86400
DAY_S = 86400


def _seconds(variable: str, v: float, most: int, most_text: str) -> float:
    """A duration setting: seconds above 0 and at most `most` (so `now ± v` stays a representable time)."""
    if not 0 < v <= most:
        raise ValueError(f"{variable} must be seconds above 0 and at most {most} ({most_text}), got {v}")
    return v


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("poas", appauthor=False))


class Settings(BaseSettings):
    # Errors do not repeat the value: several settings are secrets (the alert URL, tokens); the
    # validators below name the variable and, for values that are not secret, what they got.
    model_config = SettingsConfigDict(env_prefix="POAS_", extra="ignore", hide_input_in_errors=True)

    home: Path = Field(default_factory=_default_home)
    database_url: str | None = None
    config_file: Path | None = None
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v25.0"
    graph_timeout_s: float = 10.0
    google_datamanager_url: str = "https://datamanager.googleapis.com"  # a Google sandbox's URL to try it
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_timeout_s: float = 10.0
    shopify_admin_url: str = ""  # empty: the store's own https://{store}; a sandbox's URL to try things out
    shopify_api_version: str = "2026-10"  # pinned Shopify Admin API version
    google_ads_api_url: str = "https://googleads.googleapis.com"  # or a `poas sandbox google-ads`
    google_ads_api_version: str = "v26"  # pinned Google Ads API version
    google_ads_token_url: str = "https://oauth2.googleapis.com/token"  # OAuth refresh-token exchange
    log_format: Literal["console", "json"] = "console"
    admin_password_hash: SecretStr | None = None
    session_secret: SecretStr | None = None
    # auto: the session cookie is Secure when the request came over https (directly, or through a
    # proxy uvicorn trusts that sent X-Forwarded-Proto: https)
    cookie_secure: Literal["auto", "true", "false"] = "auto"
    admin_api_token: SecretStr | None = None  # bearer token for /api/v1 across all shops
    # Login throttling: at most this many wrong passwords per client address (IPv6: per /64) within
    # the window; shared by every web process through the store (docs/configuration.md)
    login_max_failures: int = 10
    login_window_s: float = 900.0
    # Admin sessions (kept in the store): end after this long unused, and this long after the login
    session_idle_s: float = 8 * 3600.0
    session_max_s: float = 7 * 86400.0
    webhook_max_bytes: int = 2 * 1024 * 1024
    intake_process_in_web: bool = True  # false: the web only accepts; `poas worker` processes the inbox
    # Exchange rates kept current by `poas worker` / `poas serve` and `poas fx sync` (docs/fx.md)
    fx_sync_source: Literal["off", "ecb", "norges_bank"] = "ecb"
    fx_sync_every_s: float = Field(3600.0, gt=0)
    fx_sync_currencies: str = ""  # comma-separated ISO codes besides EUR and the shops'; empty: those in use
    fx_ecb_base_url: str = "https://www.ecb.europa.eu/stats/eurofxref"
    fx_norges_bank_base_url: str = "https://data.norges-bank.no/api"
    # Alerts when delivery needs a human, posted by `poas worker` / `poas serve` (docs/alerts.md).
    # The URL is a secret (Slack and Teams put the credential in it): never logged nor shown, only its host.
    alert_webhook_url: SecretStr | None = None
    alert_format: Literal["slack", "json"] = "slack"
    alert_repeat_s: float = 21600.0  # a condition still true is announced again this often
    alert_check_every_s: float = 60.0
    # A recurring sync without a success for this long is alerted and named by `poas doctor`
    spend_sync_silence_s: float = 36 * 3600.0  # the ad-spend sync of a shop with ad account and token
    fx_sync_silence_s: float = 72 * 3600.0  # the exchange-rate sync (unless POAS_FX_SYNC_SOURCE=off)
    # The worker's shop timers (services.reconcile): orders webhooks missed, and the unit costs
    reconcile_every_s: float = 600.0
    cost_sync_every_s: float = 86400.0
    shops: list[ShopConfig] = Field(default_factory=list)

    @field_validator("fx_sync_currencies")
    @classmethod
    def _fx_currencies(cls, v: str) -> str:
        return ",".join(check_currency(c) for c in v.split(",") if c.strip())

    @field_validator("login_max_failures")
    @classmethod
    def _login_max_failures(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"POAS_LOGIN_MAX_FAILURES must be at least 1 (wrong passwords allowed), got {v}")
        return v

    @field_validator("alert_webhook_url", mode="before")
    @classmethod
    def _alert_url(cls, v: Any) -> Any:
        raw = v.get_secret_value() if isinstance(v, SecretStr) else v
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None  # empty: alerts off
        if not isinstance(raw, str):
            raise ValueError("POAS_ALERT_WEBHOOK_URL must be a URL")
        split = urlsplit(raw.strip())
        if split.scheme not in ("http", "https") or not split.hostname:
            # The value is not repeated: it may hold the receiver's credential.
            raise ValueError("POAS_ALERT_WEBHOOK_URL must be an http:// or https:// URL with a host")
        return raw.strip()

    @field_validator("alert_format", mode="before")
    @classmethod
    def _alert_format(cls, v: Any) -> Any:
        cleaned = v.strip().lower() if isinstance(v, str) else v
        if cleaned not in ("slack", "json"):
            raise ValueError(f"POAS_ALERT_FORMAT must be slack or json, got {v!r}")
        return cleaned

    @field_validator("alert_check_every_s")
    @classmethod
    def _alert_check_every(cls, v: float) -> float:
        return _seconds("POAS_ALERT_CHECK_EVERY_S", v, DAY_S, "a day")

    @field_validator(
        "login_window_s",
        "reconcile_every_s",
        "cost_sync_every_s",
        "session_idle_s",
        "session_max_s",
        "alert_repeat_s",
        "spend_sync_silence_s",
        "fx_sync_silence_s",
    )
    @classmethod
    def _sync_silence(cls, v: float, info: ValidationInfo) -> float:
        return _seconds(f"POAS_{str(info.field_name).upper()}", v, LOGIN_WINDOW_MAX_S, "a year")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'poas.db'}"

    def config_path(self) -> Path:
        return self.config_file or self.home / "poas.toml"

    def shop(self, shop_id: str) -> ShopConfig | None:
        for s in self.shops:
            if s.id == shop_id:
                return s
        return None


class ConfigError(ValueError):
    pass


WOO_SECRETS = ("woocommerce_key", "woocommerce_secret")
SHOPIFY_SECRETS = ("shopify_client_secret", "shopify_token")
GOOGLE_ADS_SECRETS = ("google_ads_client_secret", "google_ads_refresh_token", "google_ads_developer_token")


def _apply_secret_env(shop: dict[str, Any]) -> None:
    """Fill secrets from `POAS_SHOP_<ID>_<FIELD>` variables or `<field>_file` paths."""
    sid = str(shop.get("id", "")).upper().replace("-", "_").replace(".", "_")
    for name in (
        *("access_token", "app_secret", "api_token", "webhook_secrets"),
        *WOO_SECRETS,
        *SHOPIFY_SECRETS,
        *GOOGLE_ADS_SECRETS,
    ):
        env = os.environ.get(f"POAS_SHOP_{sid}_{name.upper()}")
        if env:
            shop[name] = env.split(",") if name == "webhook_secrets" else env
        file_key = f"{name}_file"
        if file_key in shop:
            path = Path(str(shop.pop(file_key)))
            try:
                text = path.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"shop {shop.get('id')}: cannot read {file_key} {path}: {exc}") from None
            shop[name] = text.split("\n") if name == "webhook_secrets" else text


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Environment settings plus the shops from the TOML file (if it exists)."""
    settings = Settings(**overrides)
    path = config_file or settings.config_path()
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        shops = data.get("shops", [])
        for shop in shops:
            _apply_secret_env(shop)
        settings.shops = [ShopConfig.model_validate(s) for s in shops]
    return settings


def mask(secret: SecretStr | None) -> str:
    if secret is None:
        return "-"
    raw = secret.get_secret_value()
    return "****" if len(raw) < 12 else f"{raw[:2]}…{raw[-2:]} ({len(raw)} chars)"
