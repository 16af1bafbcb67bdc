"""A generated shop with known customer behaviour (BG/NBD repeat orders, Gamma-Gamma order profits), on
both engines: `poas customers fit` stores the model, `poas report ltv-calibration` shows the predicted
365-day profit per customer of a held-out cohort within 10 % of what it realized."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from poas.cli import app as cli_app
from poas.cli.app import settings, store
from poas.domain.ltv import BgNbd, GammaGamma
from poas.domain.ltv_simulation import simulate
from poas.store.orders import ensure_shop
from poas.store.tables.customer_models import customer_models
from poas.store.tables.customers import customer_orders

runner = CliRunner()
NOW = datetime.now(UTC).replace(microsecond=0)
TRUE_BG = BgNbd(r=0.8, alpha=60.0, a=1.5, b=4.0)
TRUE_GG = GammaGamma(p=6.0, q=4.0, gamma=50.0)  # mean order profit 100 NOK


def _seed(engine: Engine, customers: int, seed: int) -> None:
    """Customers first ordering over the 630 days before the held-out cohort ends, until now."""
    start = NOW - timedelta(days=365 + 630)
    sims = simulate(
        TRUE_BG, TRUE_GG, customers=customers, first_day_from=0, first_day_to=630, until_day=995, seed=seed
    )
    rows, seq = [], {}
    for i, o in enumerate(sims):
        seq[o.customer] = seq.get(o.customer, 0) + 1
        minor = round(o.profit * 100)
        rows.append(
            dict(
                shop_id="demo",
                order_id=f"o{i}",
                customer_key=f"em:{o.customer}",
                placed_at=start + timedelta(days=o.day),
                counts=True,
                seq=seq[o.customer],
                profit_known=True,
                revenue_minor=minor * 2,
                gross_profit_minor=minor,
                expected_profit_minor=minor,
                realized_profit_minor=minor,
                changed_at=NOW,
            )
        )
    with engine.begin() as conn:
        ensure_shop(conn, "demo", "NOK", True, NOW)
        for i in range(0, len(rows), 5000):
            conn.execute(customer_orders.insert(), rows[i : i + 5000])


@pytest.fixture
def configured(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    config = tmp_path / "poas.toml"
    config.write_text('[[shops]]\nid = "demo"\ncurrency = "NOK"\n')
    monkeypatch.setenv("POAS_HOME", str(tmp_path))
    monkeypatch.setenv("POAS_DATABASE_URL", db_url)
    monkeypatch.setenv("POAS_CONFIG_FILE", str(config))
    settings.cache_clear()
    store.cache_clear()
    yield db_url
    store().dispose()
    settings.cache_clear()
    store.cache_clear()


def test_fit_and_calibration_report(configured: str) -> None:
    _seed(store(), customers=16000, seed=5)
    fit = runner.invoke(cli_app, ["customers", "fit"])
    assert fit.exit_code == 0, fit.output
    assert "fitted on 16000 customers" in fit.output
    with store().connect() as conn:
        stored = conn.execute(select(customer_models)).one()
    model = json.loads(stored.model)
    assert stored.basis == "expected" and stored.customers == 16000
    assert model["bg"]["r"] == pytest.approx(TRUE_BG.r, rel=0.25)
    assert model["gg"]["p"] * model["gg"]["gamma"] / (model["gg"]["q"] - 1) == pytest.approx(100, rel=0.1)

    res = runner.invoke(cli_app, ["report", "ltv-calibration", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    held = doc["held_out_cohort"]
    assert held["customers"] > 2000  # first orders in the 90 days after the cut-off, unseen by the fit
    predicted, realized = float(held["predicted_per_customer"]), float(held["realized_per_customer"])
    assert abs(predicted - realized) / realized < 0.10
    assert held["within_tolerance"] is True and abs(held["error"]) < 0.10
    existing = doc["existing_customers"]
    assert abs(existing["error"]) < 0.10 and existing["within_tolerance"] is True

    table = runner.invoke(cli_app, ["report", "ltv-calibration"])
    assert table.exit_code == 0, table.output
    assert "never seen by the" in table.output and "yes" in table.output

    cohorts = runner.invoke(cli_app, ["report", "cohorts", "--format", "json"])
    assert cohorts.exit_code == 0, cohorts.output
    months = json.loads(cohorts.output)["cohorts"]
    assert sum(m["customers"] for m in months) == 16000
    oldest = months[0]  # a year and more old: every horizon has a figure, and it grows with the horizon
    figures = [float(oldest["profit_per_customer"][h]) for h in ("30", "90", "365")]
    assert figures == sorted(figures) and figures[0] > 0
    # every first order is over a year old here: every customer counts at every horizon
    assert all(m["customers_matured"]["365"] == m["customers"] for m in months)
    bad = runner.invoke(cli_app, ["report", "cohorts", "--by", "ad"])
    assert bad.exit_code == 1 and "month or campaign" in bad.output


def test_calibration_needs_history(configured: str) -> None:
    with store().begin() as conn:
        ensure_shop(conn, "demo", "NOK", True, NOW)
    res = runner.invoke(cli_app, ["report", "ltv-calibration"])
    assert res.exit_code == 1
    assert "calibration needs 455 days of history" in " ".join(res.output.split())
    fit = runner.invoke(cli_app, ["customers", "fit"])
    assert fit.exit_code == 1 and "cannot fit" in fit.output
