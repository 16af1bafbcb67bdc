"""Grouping a bulk JSONL by bytes gives what parsing every line gives: the same orders, the same
errors (named by line), nothing lost; only lines whose bytes say nothing are parsed by the reader."""

from __future__ import annotations

import io
import json
from pathlib import Path

import orjson
import pytest

from poas.connectors.shopify_sandbox_data import bulk_rows
from poas.domain.order import Order
from poas.sources import shopify_bulk
from poas.sources.shopify_bulk import BulkError, RawGroup, raw_groups, read_bulk

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
ORDER = json.loads((FIXTURES / "order_paid_not_subscribed.json").read_text())


def _lines(order_id: int, *, spaced: bool = False) -> list[bytes]:
    order = dict(ORDER, id=order_id)
    rows = list(bulk_rows(order))
    if spaced:  # Python's json layout: a space after every separator
        return [json.dumps(r).encode() for r in rows]
    return [orjson.dumps(r) for r in rows]


def _read(data: bytes) -> tuple[list[Order], list[str]]:
    items = list(read_bulk(io.BytesIO(data), "s"))
    return [i for i in items if isinstance(i, Order)], [str(i) for i in items if isinstance(i, BulkError)]


def test_compact_and_spaced_lines_are_read_from_their_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[bytes] = []
    real = shopify_bulk._parsed

    def counting(raw: bytes) -> object:
        parsed.append(raw)
        return real(raw)

    monkeypatch.setattr(shopify_bulk, "_parsed", counting)
    data = b"\n".join([*_lines(1), *_lines(2, spaced=True)]) + b"\n"
    groups = list(raw_groups(io.BytesIO(data)))
    assert parsed == []  # the reader parsed nothing
    assert [(g.gid, g.lines) for g in groups if isinstance(g, RawGroup)] == [
        ("gid://shopify/Order/1", [1, 2, 3, 4]),
        ("gid://shopify/Order/2", [5, 6, 7, 8]),
    ]
    orders, errors = _read(data)
    assert errors == [] and [o.order_id for o in orders] == ["1", "2"]
    assert orders[0].lines == orders[1].lines and len(orders[0].lines) == 2


def test_lines_laid_out_otherwise_are_parsed_to_be_grouped() -> None:
    head, *children = _lines(3)
    # escaped slashes, the parent id first, keys reordered: valid JSON the bytes do not tell
    head = head.replace(b"gid://shopify/Order/3", b"gid:\\/\\/shopify\\/Order\\/3", 1)
    moved = orjson.loads(children[0])
    children[0] = orjson.dumps({"__parentId": moved.pop("__parentId"), **moved})
    orders, errors = _read(b"\n".join([head, *children]))
    assert errors == [] and [o.order_id for o in orders] == ["3"] and len(orders[0].lines) == 2


def test_bad_lines_are_named_and_nothing_good_is_lost() -> None:
    head1, *kids1 = _lines(10)
    head2, *kids2 = _lines(11)
    broken_child = kids1[0].replace(b'"quantity":', b'"quantity"', 1)  # its end still names order 10
    broken_head = head2[:-2]  # still starts like order 11's row, not valid JSON
    data = b"\n".join([head1, broken_child, *kids1[1:], broken_head, *kids2]) + b"\n"
    groups = [g for g in raw_groups(io.BytesIO(data)) if isinstance(g, RawGroup)]
    assert [g.lines for g in groups] == [[1, 2, 3, 4], [5, 6, 7, 8]]  # grouped by their bytes
    orders, errors = _read(data)
    assert [o.order_id for o in orders] == ["10"]
    assert len(orders[0].lines) == 1  # the broken line item is left out, the rest kept
    assert errors == [
        "line 2: not valid JSON",
        "line 5: not valid JSON",
        "line 6: __parentId: order 11 is not in the recent rows",
        "line 7: __parentId: order 11 is not in the recent rows",
        "line 8: __parentId: order 11 is not in the recent rows",
    ]


def test_an_order_repeated_before_its_group_completes_keeps_both_copies() -> None:
    first = _lines(20)
    again = _lines(20)
    again[0] = again[0].replace(b'"name":"#1042"', b'"name":"#1042-B"')
    orders, errors = _read(b"\n".join([*first, *again]))
    assert errors == []
    assert [(o.order_id, o.name) for o in orders] == [("20", "#1042"), ("20", "#1042-B")]


def test_a_key_given_twice_is_read_as_the_parser_reads_it() -> None:
    head, *kids = _lines(30)
    # orjson keeps the last of two "id" keys: the row is not the Order its first bytes say
    twice = head[:-1] + b',"id":"gid://shopify/LineItem/1"}'
    orders, errors = _read(b"\n".join([twice, *kids]))
    assert orders == []
    assert errors[0].startswith("line 1: ") and len(errors) == 1 + len(kids)
    assert errors[1:] == [f"line {n}: __parentId: order 30 is not in the recent rows" for n in (2, 3, 4)]
