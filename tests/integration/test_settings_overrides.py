"""Shop settings changed in the dashboard: stored with an audit row, checked like poas.toml, and
applied over the file by every loader (web request, worker pass, CLI) on both engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from poas.services import settings_overrides as so
from poas.settings import ConsentDefault, ConsentPolicy, MissingCostPolicy, Settings, ShopConfig
from poas.store.tables.settings_overrides import settings_changes, settings_overrides

POAS = str(Path(sys.executable).with_name("poas"))
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def _settings(**shop: object) -> Settings:
    return Settings(shops=[ShopConfig(id="nordic", **shop), ShopConfig(id="other")])  # type: ignore[arg-type]


def test_a_change_is_stored_audited_and_applied_to_that_shop_only(engine: Engine) -> None:
    base = _settings()
    shop = base.shops[0]
    change = so.set_setting(engine, shop, "target_poas", "2,5", by="dashboard admin session abc", now=NOW)
    assert change is not None and change.old_value is None and change.new_value == Decimal("2.5")
    eff = so.effective_settings(base, engine)
    assert eff.shop("nordic").target_poas == Decimal("2.5")  # type: ignore[union-attr]
    assert eff.shop("other").target_poas == Decimal("1.5")  # type: ignore[union-attr]
    assert base.shops[0].target_poas == Decimal("1.5")  # the loaded settings are not mutated

    later = NOW + timedelta(minutes=5)
    so.set_setting(engine, shop, "missing_cost", "skip", by="someone else", now=later)
    so.set_setting(engine, shop, "target_poas", "", by="someone else", now=later)  # back to the file
    eff = so.effective_settings(base, engine)
    nordic = eff.shop("nordic")
    assert nordic is not None
    assert nordic.target_poas == Decimal("1.5") and nordic.missing_cost is MissingCostPolicy.SKIP
    audit = so.changes(engine, "nordic")
    assert [(c.key, c.old_value, c.new_value, c.changed_by) for c in audit] == [
        ("target_poas", "2.5", None, "someone else"),
        ("missing_cost", None, "skip", "someone else"),
        ("target_poas", None, "2.5", "dashboard admin session abc"),
    ]
    assert audit[-1].changed_at == NOW
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settings_overrides)).scalar_one() == 1


def test_the_same_value_again_changes_nothing_and_audits_nothing(engine: Engine) -> None:
    shop = _settings().shops[0]
    assert so.set_setting(engine, shop, "decision_basis", "gross", by="a", now=NOW) is not None
    assert so.set_setting(engine, shop, "decision_basis", "gross", by="a", now=NOW) is None
    assert so.set_setting(engine, shop, "default_margin", "", by="a", now=NOW) is None  # no override to drop
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settings_changes)).scalar_one() == 1


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("target_poas", "lots", "is not a number"),
        ("target_poas", "0", "greater than 0"),
        ("pause_below_poas", "2", "must be below target_poas 1.5"),
        ("missing_cost", "guess", "choose one of skip, fallback_margin, block"),
        ("default_margin", "1.5", "between 0 and 1"),
        ("pixel_id", "123", "cannot be changed in the dashboard"),
    ],
)
def test_invalid_values_are_refused_with_a_clear_message_and_nothing_stored(
    engine: Engine, key: str, value: str, message: str
) -> None:
    shop = _settings().shops[0]
    with pytest.raises(so.SettingError, match=message):
        so.set_setting(engine, shop, key, value, by="a", now=NOW)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settings_changes)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(settings_overrides)).scalar_one() == 0


def test_a_value_is_checked_with_the_shops_other_changes(engine: Engine) -> None:
    shop = _settings().shops[0]
    so.set_setting(engine, shop, "target_poas", "3", by="a", now=NOW)
    so.set_setting(engine, shop, "pause_below_poas", "2", by="a", now=NOW)  # below the stored 3
    with pytest.raises(so.SettingError, match=r"pause_below_poas 2 must be below target_poas 1\.8"):
        so.set_setting(engine, shop, "target_poas", "1.8", by="a", now=NOW)


def test_consent_default_replaces_the_older_consent_policy(engine: Engine) -> None:
    base = _settings(consent_policy=ConsentPolicy.REQUIRE_EXPLICIT)
    so.set_setting(engine, base.shops[0], "consent_default", "granted", by="a", now=NOW)
    nordic = so.effective_settings(base, engine).shop("nordic")
    assert nordic is not None
    assert nordic.consent_default is ConsentDefault.GRANTED and nordic.consent_policy is None


def test_a_stored_value_the_file_no_longer_allows_is_ignored_not_fatal(engine: Engine) -> None:
    so.set_setting(engine, _settings().shops[0], "pause_below_poas", "1.2", by="a", now=NOW)
    strict = _settings(target_poas=Decimal("1.1"))  # poas.toml lowered the target since
    nordic = so.effective_settings(strict, engine).shop("nordic")
    assert nordic is not None and nordic.pause_below_poas == Decimal("0.5")
    assert so.effective_shop(strict.shops[0], engine).pause_below_poas == Decimal("0.5")


def test_the_cli_loads_the_change(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """A real `poas` process (as the worker and every command load their settings) sees the change."""
    config = tmp_path / "poas.toml"
    config.write_text('# my shop\n[[shops]]\nid = "nordic"\ncurrency = "NOK"\n')
    base = Settings(config_file=config)
    shop = ShopConfig(id="nordic")
    so.set_setting(engine, shop, "target_poas", "2.25", by="a", now=NOW)
    so.set_setting(engine, shop, "decision_basis", "gross", by="a", now=NOW)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POAS_")},
        "POAS_HOME": str(tmp_path),
        "POAS_CONFIG_FILE": str(config),
        "POAS_DATABASE_URL": db_url,
    }
    out = subprocess.run(
        [POAS, "advise", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert Decimal(str(doc["target_poas"])) == Decimal("2.25")
    assert doc["basis"] == "gross"
    assert config.read_text().startswith("# my shop")  # the file is left as it was
    assert base.config_file == config


def test_the_workers_inbox_pass_uses_the_changed_consent_default(engine: Engine) -> None:
    """`poas worker` (and the web's intake thread) process deliveries with the stored change."""
    from sqlalchemy import text

    from poas.services import intake

    fixture = Path(__file__).parent.parent / "fixtures" / "shopify" / "order_paid.json"
    base = Settings(
        shops=[
            ShopConfig(id="nordic", platform="shopify", pixel_id="1234567890", default_margin=Decimal("0.4"))
        ]
    )
    shop = base.shops[0]
    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    def deliver(order_id: int) -> None:
        doc = json.loads(fixture.read_text())
        doc["id"] = order_id
        body = json.dumps(doc).encode()
        delivery = intake.new_delivery(
            shop, "shopify", "orders/paid", body, dedup_key=f"event:{order_id}", received_at=now
        )
        intake.accept(engine, delivery, now=now)
        assert intake.process_pending(engine, now, settings=base).done == 1

    def purchases() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM outbox WHERE event_name = 'Purchase'")).scalar_one()
            )

    deliver(1001)
    assert purchases() == 1  # poas.toml: no consent signal on the order, default granted
    so.set_setting(engine, shop, "consent_default", "denied", by="a", now=now)
    deliver(1002)
    assert purchases() == 1  # the change is in force: no ads consent, nothing queued
    so.set_setting(engine, shop, "consent_default", "", by="a", now=now)
    deliver(1003)
    assert purchases() == 2
