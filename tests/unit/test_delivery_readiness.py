"""The worker's start warnings: a shop that sends only to Google is not "without a destination"."""

from __future__ import annotations

from typing import Any

from poas.services.delivery_readiness import start_warnings
from poas.settings import ShopConfig

ACTION = {"customer_id": "123-456-7890", "conversion_action_id": "987"}
GOOGLE_OAUTH = {"client_id": "cid", "client_secret": "secret", "refresh_token": "refresh"}


def _shop(shop_id: str, **fields: Any) -> ShopConfig:
    return ShopConfig.model_validate({"id": shop_id, **fields})


def test_a_google_only_shop_with_its_credentials_is_not_warned_about() -> None:
    google_only = _shop("g", google={"conversion_actions": [ACTION], **GOOGLE_OAUTH})
    meta = _shop("m", pixel_id="1234567890", access_token="EAA" + "x" * 30)
    assert start_warnings([google_only, meta]) == []
    assert start_warnings([google_only]) == []


def test_the_shops_without_any_destination_are_named() -> None:
    google_only = _shop("g", google={"conversion_actions": [ACTION], **GOOGLE_OAUTH})
    warnings = start_warnings([_shop("bare"), google_only, _shop("plain")])
    assert warnings == [
        "shops bare, plain: no destination (no Meta pixel_id, no Google Ads conversion action): "
        "profit is computed but nothing is sent"
    ]


def test_a_pixel_without_a_token_and_google_without_credentials_are_named_apart() -> None:
    warnings = start_warnings(
        [
            _shop("p", pixel_id="1234567890", google={"conversion_actions": [ACTION], **GOOGLE_OAUTH}),
            _shop("g", google={"conversion_actions": [ACTION]}),
        ]
    )
    assert len(warnings) == 2
    assert warnings[0].startswith("shop p: a Meta pixel without an access_token")
    assert warnings[1].startswith("shop g: Google Ads conversion actions without the Google OAuth")


def test_no_shop_at_all_is_said() -> None:
    assert start_warnings([]) == ["no shop is configured (`poas init`): there is nothing to send"]
