"""`poas connect shopify` against the Shopify sandbox over real HTTP: scopes checked by name, the
shop's currency/timezone/tax inclusion read (differences from poas.toml shown), webhooks registered
once (a second connect keeps them, a new public URL moves them), the connection stored with the
secret in a 0600 file only; a failed connect registers nothing."""

from __future__ import annotations

import importlib
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from test_shopify_sandbox import make_seed
from typer.testing import CliRunner

from poas.connectors.shopify_sandbox import RunningShopifySandbox, run_shopify_sandbox, seeded_state
from poas.connectors.woocommerce_sandbox import new_woo_state, run_woo_sandbox

appmod = importlib.import_module("poas.cli.app")
SECRET = "shpss_client_secret_0123456789"
PUBLIC = "https://poas.example.no"
TOPICS = {"ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_CANCELLED", "REFUNDS_CREATE"}


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
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningShopifySandbox]:
    with run_shopify_sandbox(seeded_state(make_seed(tmp_path / "seed"))) as sb:
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", sb.url)
        yield sb


def connect(*extra: str, public: str = PUBLIC, shop: str = "nordlys") -> Result:
    appmod.settings.cache_clear()
    args = ["connect", "shopify", shop, "--store", "nordlys.myshopify.com", "--public-url", public, *extra]
    return CliRunner().invoke(appmod.app, args, catch_exceptions=False)


def creds() -> list[str]:
    return ["--client-id", "cid", "--client-secret", SECRET]


def test_connect_registers_webhooks_once_and_stores_the_connection(
    home: Path, sandbox: RunningShopifySandbox
) -> None:
    home.mkdir(parents=True)
    (home / "poas.toml").write_text('# my shops\n[[shops]]\nid = "nordlys"\ncurrency = "EUR"\n')
    first = connect(*creds())
    assert first.exit_code == 0, first.output
    assert "currency: poas.toml had EUR, the shop says NOK" in first.output
    hooks = sandbox.state.webhooks.values()
    assert {h["topic"] for h in hooks} == TOPICS
    assert {h["uri"] for h in hooks} == {f"{PUBLIC}/webhooks/shopify/nordlys"}
    again = connect(*creds())
    assert again.exit_code == 0 and "webhooks kept: ORDERS_CREATE" in again.output
    assert len(sandbox.state.webhooks) == 5
    moved = connect(*creds(), public="https://new.example.no")
    assert moved.exit_code == 0 and "webhooks moved" in moved.output
    assert {h["uri"] for h in sandbox.state.webhooks.values()} == {
        "https://new.example.no/webhooks/shopify/nordlys"
    }
    text = (home / "poas.toml").read_text()
    assert text.startswith("# my shops") and SECRET not in text and SECRET not in first.output
    shop = tomllib.loads(text)["shops"][0]
    assert shop["platform"] == "shopify" and shop["domain"] == "nordlys.myshopify.com"
    assert (shop["currency"], shop["timezone"], shop["prices_include_vat"]) == ("NOK", "Europe/Oslo", True)
    secret_file = Path(shop["shopify_client_secret_file"])
    assert secret_file.read_text().strip() == SECRET
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert shop["webhook_secrets_file"] == shop["shopify_client_secret_file"]
    appmod.settings.cache_clear()
    loaded = appmod.settings().shop("nordlys")
    assert loaded is not None and loaded.webhook_secrets[0].get_secret_value() == SECRET


def test_a_missing_scope_is_named_and_nothing_is_registered(
    home: Path, sandbox: RunningShopifySandbox
) -> None:
    sandbox.state.scopes = ("read_products",)
    result = connect(*creds())
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert "lacks the scope(s) read_orders" in flat and "nothing was registered" in flat
    assert sandbox.state.webhooks == {} and not (home / "poas.toml").exists()


def test_wrong_credentials_and_bad_input_are_one_line_errors(
    home: Path, sandbox: RunningShopifySandbox
) -> None:
    sandbox.state.client_credentials = ("cid", "the_real_secret")
    wrong = connect(*creds())
    assert wrong.exit_code == 1 and "client secret was refused" in " ".join(wrong.output.split())
    assert SECRET not in wrong.output
    plain = connect(*creds(), public="http://poas.example.no")
    assert plain.exit_code == 1 and "https:// URL only" in " ".join(plain.output.split())
    both = connect(*creds(), "--token", "shpat_x")
    assert both.exit_code == 1 and "not both" in both.output
    store = CliRunner().invoke(
        appmod.app,
        ["connect", "shopify", "nordlys", "--store", "nordlys.no", "--token", "t", "--public-url", PUBLIC],
    )
    assert store.exit_code == 1 and "NAME.myshopify.com" in store.output
    assert sandbox.state.webhooks == {}


def test_a_failed_webhook_write_removes_what_this_run_created(
    home: Path, sandbox: RunningShopifySandbox
) -> None:
    sandbox.add_fault(kind="webhook_create", count=1)
    sandbox.state.webhooks.clear()
    # the first create fails: nothing made; then make it fail on the third
    assert connect(*creds()).exit_code == 1
    assert sandbox.state.webhooks == {}
    original = sandbox.state.take_fault
    calls = {"n": 0}

    def third_fails(kinds: tuple[str, ...]) -> object:
        if kinds == ("webhook_create",):
            calls["n"] += 1
            if calls["n"] == 3:
                return True
        return original(kinds)

    sandbox.state.take_fault = third_fails  # type: ignore[assignment,method-assign]
    result = connect(*creds())
    assert result.exit_code == 1 and "Topic is invalid" in result.output
    assert sandbox.state.webhooks == {} and not (home / "poas.toml").exists()


def test_a_static_token_connects_and_asks_for_the_webhook_secret(
    home: Path, sandbox: RunningShopifySandbox
) -> None:
    result = connect("--token", "shpat_legacy_token_value")
    assert result.exit_code == 0, result.output
    assert "POAS_SHOP_NORDLYS_WEBHOOK_SECRETS" in result.output and "shpat_legacy" not in result.output
    shop = tomllib.loads((home / "poas.toml").read_text())["shops"][0]
    assert Path(shop["shopify_token_file"]).read_text().strip() == "shpat_legacy_token_value"
    assert "shopify_client_id" not in shop


@pytest.mark.parametrize("auth", [["--token", "shpat_x"], ["--client-id", "cid", "--client-secret", SECRET]])
def test_a_store_that_is_not_shopify_is_one_line_and_nothing_is_left(
    home: Path, monkeypatch: pytest.MonkeyPatch, auth: list[str]
) -> None:
    seed = Path(__file__).resolve().parents[1] / "fixtures" / "woocommerce_seed"
    with run_woo_sandbox(new_woo_state(seed)) as wordpress:  # answers, but is a WordPress site
        monkeypatch.setenv("POAS_SHOPIFY_ADMIN_URL", wordpress.url)
        result = connect(*auth)
        assert wordpress.state.webhooks == {}
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    flat = " ".join(result.output.split())
    assert "is --store the shop's NAME.myshopify.com domain?" in flat, flat  # what to fix
    assert "nothing was registered" in flat
    assert len(lines) <= 2 and SECRET not in flat  # one error line (wrapped at most once)
    assert not (home / "poas.toml").exists() and not (home / "secrets").exists()


def test_no_permission_to_view_product_costs_is_named_and_nothing_is_registered(
    home: Path, sandbox: RunningShopifySandbox
) -> None:
    sandbox.state.cost_access = False  # unitCost answers ACCESS_DENIED, as Shopify does
    result = connect(*creds())
    assert result.exit_code == 1
    flat = " ".join(result.output.split())
    assert "Access denied for unitCost field" in flat and "permission to view product costs" in flat
    assert "nothing was registered" in flat and SECRET not in flat
    assert sandbox.state.webhooks == {} and not (home / "poas.toml").exists()

    sandbox.state.cost_access = True  # granted: connected; withdrawn later: the sync names it
    assert connect(*creds()).exit_code == 0
    sandbox.state.cost_access = False
    appmod.settings.cache_clear()
    synced = CliRunner().invoke(appmod.app, ["sync", "nordlys", "--costs-only"])
    assert synced.exit_code == 1 and "Access denied for unitCost field" in " ".join(synced.output.split())
