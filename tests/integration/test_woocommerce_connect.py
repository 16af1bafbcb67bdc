"""`poas connect woocommerce` against the sandbox over real HTTP: webhooks registered once with a
secret poas keeps (in 0600 files the settings loader reads), signed deliveries that verify, and
one-line errors with nothing registered for bad credentials, permalinks off, no WooCommerce, not
WordPress or a read-only key."""

from __future__ import annotations

import importlib
import stat
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from local_http import serve
from typer.testing import CliRunner, Result

import poas.cli  # noqa: F401  (registers every command)
from poas.connectors.woocommerce_sandbox import RunningWooSandbox, new_woo_state, run_woo_sandbox
from poas.services.intake import signature_valid
from poas.services.shop_entry import with_shop_keys
from poas.settings import load_settings

appmod = importlib.import_module("poas.cli.app")
SEED = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_seed"
KEY, SECRET = "ck_0123456789abcdef", "cs_fedcba9876543210"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.setenv("POAS_DATABASE_URL", f"sqlite:///{tmp_path / 'poas.db'}")
    monkeypatch.delenv("POAS_CONFIG_FILE", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    appmod.settings.cache_clear()
    yield home
    appmod.settings.cache_clear()


@pytest.fixture
def woo() -> Iterator[RunningWooSandbox]:
    with run_woo_sandbox(new_woo_state(SEED, key=KEY, secret=SECRET)) as sb:
        yield sb


def _connect(
    sb: RunningWooSandbox, *extra: str, secret: str = SECRET, public: str = "https://poas.example"
) -> Result:
    appmod.settings.cache_clear()
    args = ["connect", "woocommerce", "butikk", "--url", sb.url, "--key", KEY, "--secret", secret]
    return CliRunner().invoke(appmod.app, [*args, "--public-url", public, *extra], catch_exceptions=False)


def test_connect_registers_webhooks_once_and_stores_the_connection(
    home: Path, woo: RunningWooSandbox
) -> None:
    first = _connect(woo)
    assert first.exit_code == 0, first.output
    assert (
        "2 order(s), 3 product(s)" in first.output
        and "webhooks created: order.created, order.updated" in first.output
    )
    hooks = list(woo.state.webhooks.values())
    assert sorted(h["topic"] for h in hooks) == ["order.created", "order.updated"]
    assert {h["delivery_url"] for h in hooks} == {"https://poas.example/webhooks/woocommerce/butikk"}
    config = home / "poas.toml"
    shop = load_settings(config).shop("butikk")
    assert shop is not None and shop.platform == "woocommerce" and shop.woocommerce_url == woo.url
    assert shop.woocommerce_key is not None and shop.woocommerce_key.get_secret_value() == KEY
    assert shop.woocommerce_secret is not None and shop.woocommerce_secret.get_secret_value() == SECRET
    secret = shop.webhook_secrets[0].get_secret_value()
    assert len(secret) >= 32 and all(h["secret"] == secret for h in hooks)
    text = config.read_text()
    assert KEY not in text and SECRET not in text and secret not in text  # the file names secret files only
    for f in (home / "secrets" / "butikk").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert KEY not in first.output and SECRET not in first.output and secret not in first.output

    again = _connect(woo)
    assert again.exit_code == 0, again.output
    assert "webhooks updated: order.created, order.updated" in again.output
    assert len(woo.state.webhooks) == 2 and all(h["secret"] == secret for h in woo.state.webhooks.values())
    assert config.read_text().count("[[shops]]") == 1


class _Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_deliveries_after_connect_verify_with_the_stored_secret(home: Path, woo: RunningWooSandbox) -> None:
    _Receiver.got.clear()
    with serve(_Receiver) as receiver:
        assert _connect(woo, public=receiver).exit_code == 0
        order = orjson.loads((SEED / "orders" / "7301.json").read_bytes())
        httpx.post(f"{woo.url}/_sandbox/orders", json={**order, "id": 9100}).raise_for_status()
    shop = load_settings(home / "poas.toml").shop("butikk")
    assert shop is not None
    headers, body = _Receiver.got[-1]
    assert headers["x-wc-webhook-topic"] == "order.created"
    assert signature_valid(body, headers["x-wc-webhook-signature"], shop)


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        ({"secret": "cs_wrong"}, "Consumer secret is invalid."),
        ({"mode": "permalinks_off"}, "permalinks are off"),
        ({"mode": "no_woocommerce"}, "WordPress without WooCommerce"),
        ({"mode": "not_wordpress"}, "not a WordPress site"),
        ({"access": "read"}, "does not have write permissions"),
    ],
)
def test_a_failed_connect_is_one_line_and_registers_nothing(
    home: Path, woo: RunningWooSandbox, setup: dict[str, str], words: str
) -> None:
    config = {k: v for k, v in setup.items() if k != "secret"}
    if config:
        httpx.post(f"{woo.url}/_sandbox/config", json=config).raise_for_status()
    result = _connect(woo, secret=setup.get("secret", SECRET))
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert message.startswith("error: not connected:") and words in message
    assert woo.state.webhooks == {}
    assert not (home / "poas.toml").exists() and not (home / "secrets").exists()


def test_a_write_failing_midway_undoes_the_webhooks_it_created(home: Path, woo: RunningWooSandbox) -> None:
    # the second webhook write fails for good: the first one, just created, is deleted again
    fault = {
        "kind": "5xx",
        "count": None,
        "code": 500,
        "path_prefix": "/wc/v3/webhooks",
        "method": "POST",
        "after": 1,
    }
    httpx.post(f"{woo.url}/_sandbox/faults", json=fault).raise_for_status()
    result = _connect(woo)
    assert result.exit_code == 1 and "answered 500 5 times" in " ".join(result.output.split())
    assert ("POST", "/wc/v3/webhooks") in woo.state.requests  # one was created ...
    assert woo.state.webhooks == {}  # ... and deleted again
    assert not (home / "poas.toml").exists()


def test_shop_entry_edit_keeps_other_lines_and_replaces_secret_twins() -> None:
    text = (
        '# mine\n[[shops]]\nid = "a"\nplatform = "api"\n\n[[shops]]\nid = "butikk"\n'
        'webhook_secrets = [\n  "old",\n]\ncurrency = "SEK"\n\n[shops.events]\nvalue_basis = "profit"\n'
    )
    new, added = with_shop_keys(text, "butikk", {"platform": "woocommerce", "webhook_secrets_file": "/s/w"})
    assert not added
    assert "old" not in new and 'webhook_secrets_file = "/s/w"' in new and 'currency = "SEK"' in new
    assert new.startswith("# mine\n") and 'platform = "api"' in new and "[shops.events]" in new
    appended, added = with_shop_keys(text, "ny", {"platform": "woocommerce"})
    assert added and appended.endswith('[[shops]]\nid = "ny"\nplatform = "woocommerce"\n')
