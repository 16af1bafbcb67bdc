"""What the inbox stores of a delivery: its body without raw contact data (`sources.stored_body`).

On arrival (after the signature was checked on the raw bytes) the body is read, its contact data is
hashed into CAPI user_data (`services.ingest.hash_contact`, the same function ingest uses for orders
from files), and the body is pruned by its source's `scrub`; the stored form carries the hashes in
its marker. A body that cannot be read keeps only what cannot identify a person: pruned, every
remaining text with e-mail addresses and phone numbers masked, and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poas.domain.error_text import mask_personal
from poas.domain.order import Order
from poas.services.ingest import hash_contact
from poas.settings import ShopConfig
from poas.sources import canonical_json, shopify, stored_body, woocommerce
from poas.sources.prune import MAX_DEPTH
from poas.sources.stored_body import Hashed


def scrub(source: str, payload: Mapping[str, Any], shop: ShopConfig | None) -> dict[str, Any]:
    """The body without contact data, free text, access keys or tracking (the source's `scrub`)."""
    if source == "shopify":
        return shopify.scrub(payload, *([shop.consent_attribute_keys] if shop else []))
    if source == "woocommerce":
        return woocommerce.scrub(payload, *([shop.consent_meta_keys] if shop else []))
    return canonical_json.scrub(payload)


def hashed_form(source: str, data: Mapping[str, Any], order: Order | None, shop: ShopConfig) -> bytes:
    """The stored form of a body read on arrival; `order` is what it was read as (None for a refund
    or a note, which carry no contact data)."""
    if order is None:
        contact = Hashed()
    else:
        user_data, dropped = hash_contact(order)
        contact = Hashed(user_data or {}, dropped)
    return stored_body.hashed(scrub(source, data, shop), contact)


def reduced_form(source: str, data: Any, error_field: str, detail: str, shop: ShopConfig | None) -> bytes:
    """The stored form of a body that cannot be read (`data` is its JSON, None when it is not JSON):
    the reason, and of the body only what its source's `scrub` keeps, its texts masked."""
    prefix = f"{error_field}: "
    detail = mask_personal(detail[len(prefix) :] if detail.startswith(prefix) else detail)
    kept = _masked(scrub(source, data, shop)) if isinstance(data, dict) else None
    return stored_body.reduced(kept, error_field, detail)


def _masked(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, str):
        return mask_personal(value)
    if isinstance(value, dict):
        return {k: _masked(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, depth + 1) for v in value]
    return value
