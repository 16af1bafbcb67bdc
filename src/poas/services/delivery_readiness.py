"""What the delivery worker (`poas worker`, `poas serve`) warns about at start: shops it can send
nothing for, and destinations whose events will stay queued for want of credentials.

A shop's destinations are its Meta pixel (`pixel_id`, sent with its `access_token`) and its Google Ads
conversion actions (`[[shops.google.conversion_actions]]`, sent with the Google OAuth client and
refresh token). A shop with either is not "without a destination": a Google-only shop needs no Meta
token.
"""

from __future__ import annotations

from collections.abc import Sequence

from poas.services.deliver import google_credentials
from poas.settings import ShopConfig


def _names(shops: Sequence[ShopConfig]) -> str:
    return f"{'shop' if len(shops) == 1 else 'shops'} {', '.join(s.id for s in shops)}"


def start_warnings(shops: Sequence[ShopConfig]) -> list[str]:
    """One sentence per problem, each naming its shops; none when every shop can be sent for."""
    if not shops:
        return ["no shop is configured (`poas init`): there is nothing to send"]
    nowhere = [s for s in shops if not s.pixel_id and not s.google.conversion_actions]
    no_token = [s for s in shops if s.pixel_id and s.access_token is None]
    no_google = [s for s in shops if s.google.conversion_actions and google_credentials(s) is None]
    out = []
    if nowhere:
        out.append(
            f"{_names(nowhere)}: no destination (no Meta pixel_id, no Google Ads conversion action): "
            "profit is computed but nothing is sent"
        )
    if no_token:
        out.append(
            f"{_names(no_token)}: a Meta pixel without an access_token: their Meta events stay queued "
            "(the pixel gets paused) until one is set"
        )
    if no_google:
        out.append(
            f"{_names(no_google)}: Google Ads conversion actions without the Google OAuth client_id, "
            "client_secret and refresh_token: their Google events stay queued until they are set"
        )
    return out
