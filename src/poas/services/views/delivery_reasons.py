"""Why events did not reach Meta, in words: the outbox's last_error texts grouped into reasons.

`last_error` holds one line per event (the worker's verdict with Meta's codes and an fbtrace_id that
differs per request). Events are grouped by state and by that line without the trace id, so 732 events
too old for Meta are one row, not 732. Each group says whether it is an *expected* condition (nothing
to fix, nothing to replay) or a failure, and how many of its events a replay could still deliver.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

TOO_OLD_PREFIX = "too old"  # how the worker's last_error starts for an event past Meta's 7 days
_TRACE = re.compile(r"\s*\(fbtrace_id [^)]*\)")
_GAVE_UP = re.compile(r"^gave up after (\d+) attempts: ")

# User-visible texts, in one place for translation.
TOO_OLD = (
    "Too old for Meta: the event happened more than 7 days before it could be sent. Expected for orders "
    "imported from history; Meta accepts nothing older, so a replay cannot help."
)
NO_REASON = "No reason was recorded."
NOT_QUEUED = {
    "no_consent": "No ads-measurement consent: the customer declined, so nothing is sent (expected).",
    "test": "Test orders: not sent unless a test_event_code is set (expected).",
    "other": "Not queued for another reason (no pixel, the shop's consent default for the region, profit not "
    "sendable, or not paid yet): each order's page says which.",
}
STATE_WORDS = {"dead": "Not delivered (dead)", "retry": "Waiting to retry"}


class DeliveryReason(BaseModel):
    """Events in one state with the same reason."""

    key: str = Field(description="stable id of the group (for filtering and replaying it)")
    state: Literal["dead", "retry"]
    reason: str = Field(description="the reason in words")
    expected: bool = Field(description="an expected condition (e.g. too old for Meta), not a failure")
    count: int
    replayable: int = Field(description="dead events of this group a replay can still deliver")
    first_at: datetime | None = None
    last_at: datetime | None = None
    errors: list[str | None] = Field(default_factory=list, exclude=True)  # the raw texts grouped here


class NotQueued(BaseModel):
    """Orders for which no event was queued at all, by a reason the order row shows."""

    kind: Literal["no_consent", "test", "other"]
    reason: str
    expected: bool
    count: int

    @classmethod
    def of(cls, kind: Literal["no_consent", "test", "other"] | str, count: int) -> NotQueued:
        known: Literal["no_consent", "test", "other"] = (
            "no_consent" if kind == "no_consent" else "test" if kind == "test" else "other"
        )
        return cls(kind=known, reason=NOT_QUEUED[known], expected=known != "other", count=count)


def reason_words(last_error: str | None) -> tuple[str, bool]:
    """(the reason in words, expected?) for one last_error text."""
    if not last_error:
        return NO_REASON, False
    text = _TRACE.sub("", last_error).strip()
    if text.startswith(TOO_OLD_PREFIX):
        return TOO_OLD, True
    gave_up = _GAVE_UP.match(text)
    if gave_up:
        text = f"Meta kept failing: gave up after {gave_up.group(1)} attempts ({text[gave_up.end() :]})"
    return text, False


def _key(state: str, reason: str) -> str:
    return hashlib.sha1(f"{state}\x00{reason}".encode()).hexdigest()[:12]


Row = tuple[str, str | None, int, int, datetime | None, datetime | None]


def group_reasons(rows: Iterable[Row]) -> list[DeliveryReason]:
    """(state, last_error, count, inside the window, first, last) rows into reason groups: failures
    first, then expected ones; the largest first within each."""
    groups: dict[str, DeliveryReason] = {}
    for state, error, count, fresh, first, last in rows:
        if state not in ("dead", "retry"):
            continue
        words, expected = reason_words(error)
        key = _key(state, words)
        g = groups.get(key)
        if g is None:
            kind: Literal["dead", "retry"] = "dead" if state == "dead" else "retry"
            g = groups[key] = DeliveryReason(
                key=key, state=kind, reason=words, expected=expected, count=0, replayable=0
            )
        g.count += count
        if state == "dead" and not expected:
            g.replayable += fresh
        g.errors.append(error)
        if first is not None and (g.first_at is None or first < g.first_at):
            g.first_at = first
        if last is not None and (g.last_at is None or last > g.last_at):
            g.last_at = last
    return sorted(groups.values(), key=lambda g: (g.expected, g.state != "dead", -g.count, g.reason))


def matching_errors(groups: list[DeliveryReason], key: str) -> list[str | None]:
    """The raw last_error texts of one group (none when the key is unknown)."""
    for g in groups:
        if g.key == key:
            return list(g.errors)
    return []
