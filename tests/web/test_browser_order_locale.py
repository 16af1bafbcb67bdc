"""One order's page in chromium in Bokmål and in English: the amounts Meta was told, the waterfall's
sentences and the lines as the other pages write money (`1 349,00 kr` / `NOK 1,349.00`)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_kit import PHONE, LiveApp, login, screenshot, seed_order, utcnow

pytestmark = pytest.mark.browser

SEP = "[ \u00a0\u202f]"


@pytest.mark.parametrize("locale", ["nb-NO", "en-US"])
def test_order_amounts_in_the_browsers_language(browser: Any, live_app: LiveApp, locale: str) -> None:
    seed_order(live_app.engine, live_app.settings.shops[0], utcnow())
    context = browser.new_context(viewport=PHONE, locale=locale)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, live_app.url, "/orders")
        page.goto(f"{live_app.url}/orders/nordic/5001")
        told = page.locator("#told-value").inner_text(), page.locator("#told-net").inner_text()
        fee = page.locator("#waterfall-table tr[data-key=payment_fee]").inner_text()
        vat = page.locator("#waterfall-table tr[data-key=vat]").inner_text()
        wool = page.locator("#lines tr", has_text="Wool sweater").inner_text()
        if locale == "nb-NO":
            assert re.fullmatch(rf"1{SEP}349,00{SEP}kr", told[0]) and re.fullmatch(rf"460,62{SEP}kr", told[1])
            assert re.search(rf"2,4{SEP}% av 1{SEP}349,00{SEP}kr betalt \+ 2,00{SEP}kr", fee), fee
            assert re.search(rf"linjene 250,00{SEP}kr og på frakt 19,80{SEP}kr", vat), vat
            assert re.search(rf"800,00{SEP}kr", wool) and re.search(rf"180,00{SEP}kr per enhet", wool), wool
        else:
            assert re.fullmatch(rf"NOK{SEP}1,349\.00", told[0]) and re.fullmatch(rf"NOK{SEP}460\.62", told[1])
            assert re.search(rf"2\.4% of NOK{SEP}1,349\.00 paid \+ NOK{SEP}2\.00", fee), fee
            assert re.search(rf"lines NOK{SEP}250\.00 and on shipping NOK{SEP}19\.80", vat), vat
            assert re.search(rf"NOK{SEP}800\.00", wool) and re.search(rf"NOK{SEP}180\.00 per unit", wool), (
                wool
            )
        screenshot(page, f"order-locale-{locale}")
    finally:
        context.close()
    assert not errors, errors
