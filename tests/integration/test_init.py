"""`poas init`: a first poas.toml, asked or by flags, loaded by the settings loader and accepted by
`poas doctor`; the example configuration ships in the package."""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import poas.cli  # noqa: F401  (registers every command)
from poas.services.config_file import example_config
from poas.services.doctor import Level, run_checks
from poas.settings import load_settings

appmod = importlib.import_module("poas.cli.app")  # `poas.cli.app` the attribute is the Typer app
ROOT = Path(__file__).parents[2]


@pytest.fixture
def home(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_HOME", str(home))
    monkeypatch.delenv("POAS_CONFIG_FILE", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    appmod.settings.cache_clear()
    appmod.store.cache_clear()
    yield home
    if appmod.store.cache_info().currsize:
        appmod.store().dispose()
    appmod.store.cache_clear()
    appmod.settings.cache_clear()


def _run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(appmod.app, list(args), input=input, catch_exceptions=False)


def test_interactive_init_asks_and_writes_a_loadable_file(home: Path) -> None:
    # A bad shop id and a bad currency are asked again; defaults (timezone) are taken on Enter.
    answers = (
        "Nordlys Butikk\nnordlys\nshopify\nnordlys.myshopify.com\n"
        "KRONER\nnok\n\n123456789012345\n1234567890\n"
    )
    result = _run("init", input=answers)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "shop id 'Nordlys Butikk'" in out and "unknown currency 'KRONER'" in out
    assert "poas connect shopify nordlys --store nordlys.myshopify.com" in out
    assert "POAS_SHOP_NORDLYS_WEBHOOK_SECRETS" in out and "POAS_SHOP_NORDLYS_ACCESS_TOKEN" in out
    shop = load_settings(home / "poas.toml").shops[0]
    assert (shop.id, shop.platform, shop.domain) == ("nordlys", "shopify", "nordlys.myshopify.com")
    assert (shop.currency, shop.timezone, shop.pixel_id) == ("NOK", "Europe/Oslo", "123456789012345")
    assert shop.ad_account_id == "act_1234567890" and shop.prices_include_vat is True


def test_flags_only_never_prompt(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere" / "shops.toml"
    monkeypatch.setenv("POAS_CONFIG_FILE", str(target))
    result = _run(
        "init",
        "--shop",
        "kaffe",
        "--platform",
        "woocommerce",
        "--domain",
        "https://kaffebutikk.no/",
        "--currency",
        "sek",
        "--timezone",
        "Europe/Stockholm",
        "--prices-exclude-vat",
        input="",  # a prompt would hit end of input and fail
    )
    assert result.exit_code == 0, result.output
    assert "poas connect woocommerce kaffe --url https://kaffebutikk.no" in " ".join(result.output.split())
    shop = load_settings(target).shops[0]
    assert (shop.platform, shop.domain, shop.currency, shop.timezone) == (
        "woocommerce",
        "kaffebutikk.no",
        "SEK",
        "Europe/Stockholm",
    )
    assert shop.prices_include_vat is False and shop.pixel_id is None
    assert not (home / "poas.toml").exists()


def test_api_shop_points_at_the_demo(home: Path) -> None:
    result = _run("init", "--shop", "egen", "--platform", "api", "--no-input")
    assert result.exit_code == 0, result.output
    assert "next: poas demo" in result.output and "POAS_SHOP_EGEN_API_TOKEN" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "shopify", "--domain", "x.myshopify.com"], "--no-input needs --shop and --platform"),
        (["--shop", "a", "--platform", "magento"], "platform 'magento': use one of"),
        (["--shop", "a", "--platform", "shopify", "--domain", "a.example.com"], "ends in .myshopify.com"),
        (["--shop", "a", "--platform", "api", "--timezone", "Oslo"], "timezone 'Oslo'"),
        (["--shop", "a", "--platform", "api", "--pixel-id", "px-1"], "pixel id 'px-1'"),
    ],
)
def test_bad_flags_are_named_and_nothing_is_written(home: Path, args: list[str], message: str) -> None:
    result = _run("init", "--no-input", *args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert not (home / "poas.toml").exists()


def test_an_existing_file_is_kept_unless_forced_then_backed_up(home: Path) -> None:
    home.mkdir()
    (home / "poas.toml").write_text('[[shops]]\nid = "old"\n')
    refused = _run("init", "--shop", "new", "--platform", "api")
    assert refused.exit_code == 1 and "exists" in refused.output and "--force" in refused.output
    assert load_settings(home / "poas.toml").shops[0].id == "old"
    forced = _run("init", "--shop", "new", "--platform", "api", "--force")
    assert forced.exit_code == 0, forced.output
    assert load_settings(home / "poas.toml").shops[0].id == "new"
    backups = list(home.glob("poas.toml.bak-*"))
    assert len(backups) == 1 and backups[0].read_text() == '[[shops]]\nid = "old"\n'
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []  # no probe file left


def test_doctor_accepts_the_written_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(
        "init", "--shop", "nordlys", "--platform", "shopify", "--domain", "nordlys.myshopify.com",
        "--pixel-id", "123456789012345",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _run("db", "upgrade")
    before = [c for c in run_checks(load_settings(), graph=False) if c.name == "shop nordlys"]
    # Without its secrets the shop check names exactly the variables `poas init` printed.
    fails = [c for c in before if c.level is Level.FAIL]
    assert "POAS_SHOP_NORDLYS_WEBHOOK_SECRETS" in " ".join(c.fix for c in fails)
    assert "POAS_SHOP_NORDLYS_ACCESS_TOKEN" in " ".join(c.fix for c in fails)
    monkeypatch.setenv("POAS_SHOP_NORDLYS_WEBHOOK_SECRETS", "shpss_0123456789abcdef")
    monkeypatch.setenv("POAS_SHOP_NORDLYS_ACCESS_TOKEN", "EAAB" + "x" * 40)
    checks = run_checks(load_settings(), graph=False)
    shop_checks = [c for c in checks if c.name == "shop nordlys"]
    assert shop_checks and {c.level for c in shop_checks} == {Level.OK}, shop_checks
    assert not [c for c in checks if c.name == "shops"]  # the "no shops configured" warning is gone
    appmod.settings.cache_clear()
    doctor = _run("doctor", "--no-graph")
    assert doctor.exit_code == 0, doctor.output
    assert "shop nordlys" in doctor.output and "no shops configured" not in doctor.output


def test_doctor_without_a_config_says_poas_init(home: Path) -> None:
    checks = run_checks(load_settings(), graph=False)
    shops = next(c for c in checks if c.name == "shops")
    assert "poas init" in shops.fix and "docs/" not in shops.fix


def test_the_example_ships_in_the_package_and_matches_the_docs(home: Path, tmp_path: Path) -> None:
    shipped = example_config()
    assert shipped == (ROOT / "docs" / "poas.example.toml").read_text()
    assert [s["id"] for s in tomllib.loads(shipped)["shops"]] == ["nordlys", "kaffe", "egen-butikk"]
    printed = _run("init", "--example")
    assert printed.exit_code == 0 and printed.output == shipped
    out = tmp_path / "example.toml"
    assert _run("init", "--example", "--output", str(out)).exit_code == 0
    assert out.read_text() == shipped
    again = _run("init", "--example", "--output", str(out))
    assert again.exit_code == 1 and "exists" in again.output
