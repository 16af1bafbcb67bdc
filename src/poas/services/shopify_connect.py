"""`poas connect shopify`: check the credentials and scopes, read the shop's currency, timezone and
tax inclusion, register the webhooks poas needs at its public URL, and store the connection.

Order of work, so a failed connect leaves nothing half-connected: every read check first; then the
webhooks (one per topic at `{public-url}/webhooks/shopify/{shop}`: an existing one at that URL is
kept, one of this shop's at an older poas URL is moved, otherwise one is created; if a write fails,
the ones this run created are deleted again); then the secret, in its own 0600 file under
`$POAS_HOME/secrets/<shop>/`; last the shop entry in poas.toml, which names that file. With client
credentials the client secret also signs the app's webhooks, so `webhook_secrets_file` names the same
file. A static token's webhooks are signed with the custom app's API secret key, which poas does not
see: the report says to set `webhook_secrets` when none is configured.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from poas.connectors.shopify import ShopifyClient, ShopifyError, ShopInfo, check_store
from poas.services.config_file import InitError, check_shop_id
from poas.services.shop_entry import set_shop_keys, write_secret
from poas.settings import Settings

TOPICS = ("ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_CANCELLED", "REFUNDS_CREATE")
REQUIRED_SCOPES = ("read_orders", "read_products")


class ConnectError(RuntimeError):
    """A one-line reason the shop was not connected (nothing was registered)."""


@dataclass(frozen=True)
class ShopifyConnection:
    shop_id: str
    store: str
    public_url: str
    client_id: str | None = None
    client_secret: str | None = None
    token: str | None = None

    def __repr__(self) -> str:  # the secret and token never print
        return f"ShopifyConnection({self.shop_id!r}, {self.store!r}, public_url={self.public_url!r})"


@dataclass
class ShopifyConnectReport:
    shop_id: str
    delivery_url: str
    info: ShopInfo | None = None
    differences: list[tuple[str, str, str]] = field(default_factory=list)  # (key, poas.toml, shop)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    config_path: Path | None = None
    entry_added: bool = False


def client_for(settings: Settings, conn: ShopifyConnection) -> ShopifyClient:
    return ShopifyClient(
        conn.store,
        client_id=conn.client_id,
        client_secret=conn.client_secret,
        token=conn.token,
        base_url=settings.shopify_admin_url,
        api_version=settings.shopify_api_version,
    )


def _check(conn: ShopifyConnection) -> tuple[str, str, str]:
    try:
        shop_id = check_shop_id(conn.shop_id)
        store = check_store(conn.store)
    except (InitError, ValueError) as exc:
        raise ConnectError(str(exc)) from None
    if conn.token and (conn.client_id or conn.client_secret):
        raise ConnectError("give either --token or --client-id with --client-secret, not both")
    if not conn.token and not (conn.client_id and conn.client_secret):
        raise ConnectError("give --client-id and --client-secret (a Dev Dashboard app) or --token (shpat_…)")
    parts = urlsplit(conn.public_url.strip())
    local = parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")
    if not (parts.scheme == "https" or local) or not parts.netloc or parts.query or parts.fragment:
        raise ConnectError(
            f"--public-url {conn.public_url!r}: Shopify delivers webhooks to an https:// URL only "
            "(plain http only to this machine, for the sandbox)"
        )
    return shop_id, store, conn.public_url.strip().rstrip("/")


def _differences(settings: Settings, shop_id: str, info: ShopInfo) -> list[tuple[str, str, str]]:
    shop = settings.shop(shop_id)
    if shop is None:
        return []
    pairs = [
        ("currency", shop.currency, info.currency),
        ("timezone", shop.timezone, info.timezone),
        ("prices_include_vat", str(shop.prices_include_vat).lower(), str(info.taxes_included).lower()),
    ]
    return [(k, mine, theirs) for k, mine, theirs in pairs if theirs and mine != theirs]


def _register(client: ShopifyClient, shop_id: str, delivery: str, report: ShopifyConnectReport) -> list[str]:
    """Webhook subscriptions for every topic; returns the ids this run created."""
    existing = client.webhooks()
    suffix = f"/webhooks/shopify/{shop_id}"
    made: list[str] = []
    try:
        for topic in TOPICS:
            same = [w for w in existing if w.get("topic") == topic and w.get("uri") == delivery]
            if same:
                report.kept.append(topic)
                continue
            ours = [w for w in existing if w.get("topic") == topic and str(w.get("uri", "")).endswith(suffix)]
            if ours:
                client.update_webhook(str(ours[0]["id"]), delivery)
                report.updated.append(topic)
                continue
            made.append(str(client.create_webhook(topic, delivery)["id"]))
            report.created.append(topic)
    except ShopifyError:
        _unregister(client, made)  # nothing half-registered
        report.created.clear()
        raise
    return made


def _unregister(client: ShopifyClient, made: list[str]) -> None:
    for gid in made:
        with contextlib.suppress(ShopifyError):
            client.delete_webhook(gid)


def connect_shopify(settings: Settings, conn: ShopifyConnection) -> ShopifyConnectReport:
    """Connect the shop or raise ConnectError (then no webhook is left registered and no file changed)."""
    shop_id, store, public_url = _check(conn)
    conn = ShopifyConnection(shop_id, store, public_url, conn.client_id, conn.client_secret, conn.token)
    report = ShopifyConnectReport(shop_id, f"{public_url}/webhooks/shopify/{shop_id}")
    with client_for(settings, conn) as client:
        try:
            info = client.shop_info()
            missing = [s for s in REQUIRED_SCOPES if s not in info.scopes]
            if missing:
                raise ConnectError(
                    f"{store}: the app lacks the scope(s) {', '.join(missing)}: add them to the app's "
                    "access scopes, release the version, and run poas connect again"
                )
            try:
                client.can_read_costs()
            except ShopifyError as exc:
                if exc.kind != "scope":
                    raise
                raise ConnectError(
                    f"{store}: Shopify will not show the app the unit costs ({exc}): in the Shopify admin "
                    "give the app (or, for a custom app, the staff account that installed it) the "
                    "permission to view product costs, and run poas connect again (nothing was registered)"
                ) from None
            report.info = info
            report.differences = _differences(settings, shop_id, info)
            if "read_all_orders" not in info.scopes:
                report.notes.append(
                    "without read_all_orders, poas sync reads only the last 60 days of orders"
                )
            made = _register(client, shop_id, report.delivery_url, report)
        except ShopifyError as exc:
            raise ConnectError(_explain(exc)) from None
        try:
            _store(settings, conn, info, report)
        except (ConnectError, OSError):
            _unregister(client, made)
            raise
    return report


def _explain(exc: ShopifyError) -> str:
    hints = {
        "auth": "check the app's credentials (Dev Dashboard → the app → Settings)",
        "scope": "grant the app the scopes read_orders and read_products",
        "not_shopify": "is --store the shop's NAME.myshopify.com domain?",
    }
    hint = hints.get(exc.kind)
    return f"{exc}: {hint}" if hint else str(exc)


def _store(settings: Settings, conn: ShopifyConnection, info: ShopInfo, report: ShopifyConnectReport) -> None:
    folder = settings.home / "secrets" / conn.shop_id
    values: dict[str, str | bool | list[str]] = {
        "platform": "shopify",
        "domain": conn.store,
        "currency": info.currency,
        "timezone": info.timezone,
        "prices_include_vat": info.taxes_included,
    }
    if conn.token:
        values["shopify_token_file"] = str(write_secret(folder, "shopify_token", conn.token))
        shop = settings.shop(conn.shop_id)
        if shop is None or not shop.webhook_secrets:
            report.notes.append(
                "set webhook_secrets to the custom app's API secret key (it signs the webhooks): "
                f"POAS_SHOP_{conn.shop_id.upper().replace('-', '_').replace('.', '_')}_WEBHOOK_SECRETS"
            )
    else:
        assert conn.client_secret is not None and conn.client_id is not None
        path = str(write_secret(folder, "shopify_client_secret", conn.client_secret))
        values |= {"shopify_client_id": conn.client_id, "shopify_client_secret_file": path}
        values["webhook_secrets_file"] = path  # the client secret signs this app's webhooks
    report.config_path = settings.config_path()
    try:
        report.entry_added = set_shop_keys(report.config_path, conn.shop_id, values)
    except InitError as exc:
        raise ConnectError(f"{report.config_path}: {exc}") from None
