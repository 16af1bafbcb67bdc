"""The bulk fast path gives exactly the Order the REST rules give (to the Decimal exponent), or None and
leaves the group to them: on every fixture order, the sample shop's orders and thousands of mutated
rows. Where the long way refuses a group, the fast path never returns an Order."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from poas.connectors.shopify_sandbox_data import bulk_rows
from poas.domain.consent import DEFAULT_SIGNAL_KEYS
from poas.domain.order import Order
from poas.sources import shopify
from poas.sources.payload import PayloadError, TimeBounds
from poas.sources.sample_shop import generate
from poas.sources.shopify_bulk import order_payload
from poas.sources.shopify_bulk_fast import fast_order

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
BOUNDS = TimeBounds.of(date(2000, 1, 1), datetime(2026, 12, 1, tzinfo=UTC))
KEYS = (*DEFAULT_SIGNAL_KEYS, "consent_ads")


def _fixture_orders() -> list[dict[str, Any]]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "line_items" in data:
            out.append(data)
    return out


def _slow(row: Mapping[str, Any], children: list[dict[str, Any]]) -> Order | PayloadError:
    try:
        return shopify.parse_order(order_payload(row, children), "s", consent_keys=KEYS, bounds=BOUNDS)
    except PayloadError as exc:
        return exc


def _check(row: dict[str, Any], children: list[dict[str, Any]]) -> Order | None:
    slow = _slow(copy.deepcopy(row), copy.deepcopy(children))
    fast = fast_order(row, children, "s", consent_keys=KEYS, bounds=BOUNDS)
    if isinstance(slow, PayloadError):
        assert fast is None, f"the long way refuses this group ({slow}); the fast path must not read it"
    elif fast is not None:
        assert repr(fast) == repr(slow)
    return fast


def _groups(order: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    head, *children = bulk_rows(order)
    return head, children


@pytest.mark.parametrize("order", _fixture_orders(), ids=lambda o: str(o.get("name")))
def test_every_fixture_order_reads_the_same(order: dict[str, Any]) -> None:
    head, children = _groups(order)
    fast = _check(head, children)
    if not order.get("refunds"):
        assert fast is not None, "a plain order must take the fast path"


def test_the_sample_shops_orders_read_the_same() -> None:
    shop = generate(seed=7, days=3, orders_per_day=100, today=date(2026, 11, 30))
    taken = 0
    for o in shop.orders:
        assert o.payload is not None
        head, children = _groups(o.payload)
        taken += _check(head, children) is not None
    assert len(shop.orders) > 200 and taken == len(shop.orders)


WEIRD: list[Any] = [
    None,
    "",
    "  ",
    " 12.50 ",
    "-0.00",
    "1e20",
    "NaN",
    "1_000.00",
    "Infinity",
    "1e15",
    "abc",
    0,
    1,
    -3,
    2.5,
    True,
    False,
    [],
    {},
    ["x"],
    {"shopMoney": {"amount": "3.00"}},
    "gid://shopify/LineItem/",
    "gid://shopify/LineItem/ 9 ",
    "2026-11-20T13:00:00",
    "1999-01-01T00:00:00Z",
    "2030-01-01T00:00:00+02:00",
    "SUBSCRIBED",
    "x" * 300,
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _mutate(target: Any, path: tuple[Any, ...], rng: random.Random) -> None:
    *parents, last = path
    for p in parents:
        target = target[p]
    if isinstance(target, dict) and rng.random() < 0.2:
        target.pop(last, None)
    else:
        target[last] = copy.deepcopy(rng.choice(WEIRD))


def test_mutated_rows_read_the_same_or_the_long_way() -> None:
    rng = random.Random(20261202)
    bases = [_groups(o) for o in _fixture_orders() if not o.get("refunds")]
    fast_taken = 0
    for _ in range(4000):
        head, children = copy.deepcopy(rng.choice(bases))
        rows = [head, *children]
        for _ in range(rng.randint(1, 3)):
            row = rng.choice(rows)
            paths = [p for p in _paths(row) if p[0] != "__parentId"]
            _mutate(row, rng.choice(paths), rng)
        fast_taken += _check(head, children) is not None
    assert fast_taken > 400  # the test reaches the fast path's own checks, not only its refusals
