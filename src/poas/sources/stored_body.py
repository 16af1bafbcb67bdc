"""The inbox's stored form of a delivery body: no raw contact data, ever.

What the inbox stores is the body as the platform sent it, pruned by its source's `scrub` (no
contact data, free text, access keys or tracking), plus one marker key, `_poas`:

- `{"form": "hashed", "v": 1, "user_data": {...}, "dropped": {...}}`: the body was read when it
  arrived; `user_data` is the CAPI user_data computed then from its contact data
  (`poas.domain.pii.hash_user_data`: em/ph/fn/ln/… as SHA-256 hashes, fbc/fbp/IP/user agent as Meta
  takes them) and `dropped` the fields that could not be used, with a reason each (never a value).
  Processing uses that user_data as the order's; it never hashes again.
- `{"form": "reduced", "v": 1, "field": …, "detail": …}`: the body could not be read when it arrived
  (a permanent failure): only what cannot identify a person is kept beside the reason, and reading
  it raises that reason again.

A body without the marker is a raw body accepted before this form existed (0.x): it is read as it
always was, and replaced by its stored form when its processing fails (`services.intake`), so a
pending raw body is processed once and never parked with its contact data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from poas.sources.payload import PayloadError

MARKER = "_poas"
VERSION = 1


@dataclass(frozen=True, slots=True)
class Hashed:
    """The contact data of a stored body, as hashed when it arrived."""

    user_data: Mapping[str, Any] = field(default_factory=dict)
    dropped: Mapping[str, str] = field(default_factory=dict)

    @property
    def identifies(self) -> bool:
        """Whether it holds a key identifier of the person (e-mail, phone, customer id)."""
        return any(self.user_data.get(k) for k in ("em", "ph", "external_id"))


def dumps(data: Any) -> bytes:
    """Compact JSON; ASCII escapes, so any text the reader accepted (even a lone surrogate) is written."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def hashed(payload: Mapping[str, Any], contact: Hashed) -> bytes:
    """The stored form of a body read on arrival: `payload` (already pruned) and its hashed contact data."""
    marker = {
        "form": "hashed",
        "v": VERSION,
        "user_data": dict(contact.user_data),
        "dropped": dict(contact.dropped),
    }
    return dumps({**{k: v for k, v in payload.items() if k != MARKER}, MARKER: marker})


def reduced(payload: Mapping[str, Any] | None, error_field: str, detail: str) -> bytes:
    """The stored form of a body that could not be read: `payload` (pruned, or None) and the reason."""
    kept = {k: v for k, v in (payload or {}).items() if k != MARKER}
    marker = {"form": "reduced", "v": VERSION, "field": error_field[:200], "detail": detail[:500]}
    return dumps({**kept, MARKER: marker})


def is_stored_form(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get(MARKER), dict)


def split(data: Any) -> tuple[Any, Hashed | None]:
    """(the body without its marker, its hashed contact data); (data, None) for a raw body of 0.x.

    A reduced body raises the PayloadError it was stored with."""
    if not is_stored_form(data):
        return data, None
    marker = data[MARKER]
    payload = {k: v for k, v in data.items() if k != MARKER}
    if marker.get("form") == "reduced":
        raise PayloadError(str(marker.get("field") or "body"), str(marker.get("detail") or "unreadable"))
    if marker.get("form") != "hashed":
        raise PayloadError(MARKER, f"unknown stored form {str(marker.get('form'))[:40]!r}")
    user_data = marker.get("user_data")
    dropped = marker.get("dropped")
    return payload, Hashed(
        dict(user_data) if isinstance(user_data, dict) else {},
        {str(k): str(v) for k, v in dropped.items()} if isinstance(dropped, dict) else {},
    )
