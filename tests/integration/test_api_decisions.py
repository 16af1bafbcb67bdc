"""The JSON API's report decides on the shop's basis, or the one asked for: verdict, tone, advice."""

from __future__ import annotations

from decimal import Decimal

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from test_seed_story import CAMPAIGN_A, CAMPAIGN_B, DAY, _load

from poas.settings import Settings, ShopConfig
from poas.web.app import create_app

ADMIN = {"Authorization": "Bearer admin-token-123456"}


def test_report_lines_carry_the_verdict_the_advice_acts_on(engine: Engine) -> None:
    _load(engine)  # A: POAS 1.0 (gross), B: 2.1; no return rules, so both bases agree
    settings = Settings(
        session_secret=SecretStr("s" * 32),
        admin_api_token=SecretStr("admin-token-123456"),
        shops=[
            ShopConfig(
                id="seed", timezone="Europe/Oslo", target_poas=Decimal(2), pause_below_poas=Decimal("0.8")
            )
        ],
    )
    with TestClient(create_app(settings, engine)) as client:
        url = f"/api/v1/report?by=campaign&shop_id=seed&from={DAY}&to={DAY}&sort=poas_basis"
        body = client.get(url, headers=ADMIN).json()
        gross = client.get(url + "&basis=gross", headers=ADMIN).json()
        bad = client.get(url + "&basis=net", headers=ADMIN)
    assert body["basis"] == "expected" and gross["basis"] == "gross" and body["other_basis"] == "gross"
    assert Decimal(body["target_poas"]) == 2 and Decimal(body["pause_below"]) == Decimal("0.8")
    lines = {r["key"]: r for r in body["rows"]}
    assert [r["key"] for r in body["rows"]][:2] == [CAMPAIGN_B, CAMPAIGN_A]  # sorted by POAS on the basis
    assert (lines[CAMPAIGN_A]["verdict"], lines[CAMPAIGN_A]["tone"]) == ("cut", "warn")  # 1.0 < target 2
    assert (lines[CAMPAIGN_B]["verdict"], lines[CAMPAIGN_B]["tone"]) == ("grow", "good")
    assert Decimal(lines[CAMPAIGN_A]["profit_after_ads"]) == Decimal("0.00")  # 1 000 profit − 1 000 spend
    advice = {c["key"]: c for c in body["advice"]["campaigns"]}
    assert advice[CAMPAIGN_A]["verdict"] == "cut" and advice[CAMPAIGN_B]["verdict"] == "grow"
    assert Decimal(advice[CAMPAIGN_A]["change"]) < 0 < Decimal(advice[CAMPAIGN_B]["change"])
    assert bad.status_code == 422
