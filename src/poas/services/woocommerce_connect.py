"""`poas connect woocommerce`: check the site and the key (read orders and products, write webhooks),
register the order.created / order.updated webhooks at poas's public URL with a secret poas holds,
and store the connection.

Order of work, so a failed connect leaves nothing half-connected: every read check first; then the
webhooks (existing ones with poas's delivery URL are updated, duplicates removed; if a later write
fails, the ones this run created are deleted again); then the secrets, each in its own 0600 file
under `$POAS_HOME/secrets/<shop>/`; last the shop entry in poas.toml, which names those files
(`woocommerce_key_file`, `woocommerce_secret_file`, `webhook_secrets_file`). A reconnect keeps the
shop's webhook secret (the configured one, else the stored file), so deliveries in flight still verify.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from poas.connectors.woocommerce import LOCAL_HOSTS, WooClient, WooError
from poas.services.config_file import InitError, check_shop_id
from poas.services.shop_entry import set_shop_keys, write_secret
from poas.settings import Settings

TOPICS = ("order.created", "order.updated")
SECRET_FILES = {
    "woocommerce_key": "woocommerce_key",
    "woocommerce_secret": "woocommerce_secret",
    "webhook_secrets": "webhook_secret",
}


class ConnectError(RuntimeError):
    """A one-line reason the shop was not connected (nothing was registered)."""


@dataclass(frozen=True)
class WooConnection:
    shop_id: str
    url: str
    key: str
    secret: str
    public_url: str

    def __repr__(self) -> str:  # the key and secret never print
        return f"WooConnection({self.shop_id!r}, {self.url!r}, public_url={self.public_url!r})"


@dataclass
class WooConnectReport:
    shop_id: str
    delivery_url: str
    orders: int = 0
    products: int = 0
    created: list[str] = field(default_factory=list)  # topics
    updated: list[str] = field(default_factory=list)
    removed: int = 0  # duplicate webhooks with poas's URL deleted
    config_path: Path = Path()
    shop_added: bool = False
    secrets_dir: Path = Path()
    created_ids: list[int] = field(default_factory=list)  # webhooks this run created (undone on failure)


def check_public_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectError(f"--public-url {url!r} is not a web address (https://poas.example)")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ConnectError(f"--public-url {url!r}: WooCommerce must reach poas over https://")
    return url.strip().rstrip("/")


def secrets_dir(settings: Settings, shop_id: str) -> Path:
    return settings.home / "secrets" / shop_id


def _webhook_secret(settings: Settings, shop_id: str) -> str:
    shop = settings.shop(shop_id)
    if shop is not None and shop.webhook_secrets:
        return shop.webhook_secrets[0].get_secret_value()
    stored = secrets_dir(settings, shop_id) / SECRET_FILES["webhook_secrets"]
    if stored.exists():
        first = stored.read_text(encoding="utf-8").strip().split("\n")[0].strip()
        if first:
            return first
    return secrets.token_urlsafe(32)


def _count(client: WooClient, route: str) -> int:
    resp = client.request("GET", route, params={"per_page": 1})
    return int(resp.headers.get("x-wp-total") or 0)


def connect_woocommerce(
    settings: Settings, conn: WooConnection, *, sleep: Callable[[float], None] = time.sleep
) -> WooConnectReport:
    try:
        shop_id = check_shop_id(conn.shop_id)
    except InitError as exc:
        raise ConnectError(str(exc)) from None
    existing = settings.shop(shop_id)
    if existing is not None and existing.platform not in ("woocommerce", "api"):
        raise ConnectError(f"shop {shop_id!r} is configured as a {existing.platform} shop, not WooCommerce")
    public = check_public_url(conn.public_url)
    report = WooConnectReport(shop_id, f"{public}/webhooks/woocommerce/{shop_id}")
    try:
        with WooClient(conn.url, conn.key, conn.secret, sleep=sleep) as client:
            client.discover()
            report.orders = _count(client, "/orders")
            report.products = _count(client, "/products")
            hooks = client.webhooks()
            secret = _webhook_secret(settings, shop_id)
            _register(client, hooks, report, secret)
            try:
                _store(settings, conn, client.url, secret, report)
            except (InitError, OSError) as exc:
                _undo(client, report)
                raise ConnectError(f"the connection could not be stored: {exc}") from None
    except WooError as exc:
        raise ConnectError(str(exc)) from None
    return report


def _register(
    client: WooClient, hooks: list[dict[str, object]], report: WooConnectReport, secret: str
) -> None:
    try:
        for topic in TOPICS:
            mine = [
                h for h in hooks if h.get("delivery_url") == report.delivery_url and h.get("topic") == topic
            ]
            body = {
                "name": f"poas {report.shop_id} {topic}",
                "topic": topic,
                "delivery_url": report.delivery_url,
                "secret": secret,
                "status": "active",
            }
            if mine:
                keep, extra = mine[0], mine[1:]
                client.save_webhook(int(str(keep["id"])), body)
                report.updated.append(topic)
                for dup in extra:
                    client.delete_webhook(int(str(dup["id"])))
                    report.removed += 1
            else:
                saved = client.save_webhook(None, body)
                report.created_ids.append(int(saved["id"]))
                report.created.append(topic)
    except WooError:
        _undo(client, report)
        raise


def _undo(client: WooClient, report: WooConnectReport) -> None:
    """Delete the webhooks this run created (best effort: the error that brought us here wins)."""
    for hook_id in report.created_ids:
        with contextlib.suppress(WooError):
            client.delete_webhook(hook_id)
    report.created.clear()
    report.created_ids.clear()


def _store(settings: Settings, conn: WooConnection, url: str, secret: str, report: WooConnectReport) -> None:
    folder = secrets_dir(settings, report.shop_id)
    files = {
        "woocommerce_key_file": write_secret(folder, SECRET_FILES["woocommerce_key"], conn.key),
        "woocommerce_secret_file": write_secret(folder, SECRET_FILES["woocommerce_secret"], conn.secret),
        "webhook_secrets_file": write_secret(folder, SECRET_FILES["webhook_secrets"], secret),
    }
    host = urlsplit(url).hostname or ""
    values: dict[str, str | bool | list[str]] = {"platform": "woocommerce", "woocommerce_url": url}
    if settings.shop(report.shop_id) is None:
        values["domain"] = host
    values.update({k: str(v) for k, v in files.items()})
    report.config_path = settings.config_path()
    report.secrets_dir = folder
    report.shop_added = set_shop_keys(report.config_path, report.shop_id, values)
