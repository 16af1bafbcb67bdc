"""The quick check before the refund-lines pass: a file whose every order row says `"refunds":[]` is
left untouched without reading its lines; anything that may be a refund is read the long way."""

from __future__ import annotations

from pathlib import Path

import pytest

from poas.connectors.shopify_refund_lines import _may_have_refunds, attach_refund_lines

EMPTY_ROW = b'{"id":"gid://shopify/Order/1","name":"#1","refunds":[]}\n'
CHILD_ROW = b'{"id":"gid://shopify/LineItem/2","__parentId":"gid://shopify/Order/1"}\n'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", False),
        (EMPTY_ROW + CHILD_ROW, False),
        (EMPTY_ROW * 3, False),
        (b'{"id":"gid://shopify/Order/1","refunds":[{"id":"gid://shopify/Refund/9"}]}\n', True),
        (b'{"id":"gid://shopify/Order/1","refunds": []}\n', True),  # not compact: read the lines
        (b'{"id":"gid://shopify/Order/1","note":"\\"refunds\\""}\n', False),  # escaped in a value
        (b'{"id":"gid://shopify/Order/1","x":{"refunds":{}}}\n', True),  # another shape: read the lines
        (EMPTY_ROW + b'{"id":"gid://shopify/Order/2","refunds":[{"id":"x"}]}', True),  # last, no newline
        (b'{"id":"gid://shopify/Order/1","refunds"', True),  # cut off after the key
    ],
)
def test_quick_check(tmp_path: Path, body: bytes, expected: bool) -> None:
    path = tmp_path / "bulk.jsonl"
    path.write_bytes(body)
    assert _may_have_refunds(path) is expected


class _NoCalls:
    def refund_lines(self, ids: object) -> dict[str, object]:
        raise AssertionError("no refund to read")


def test_no_refunds_leaves_the_file_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "bulk.jsonl"
    body = (EMPTY_ROW + CHILD_ROW) * 50
    path.write_bytes(body)
    assert attach_refund_lines(_NoCalls(), path) == 0  # type: ignore[arg-type]
    assert path.read_bytes() == body


@pytest.mark.parametrize("cut", range(0, 40))
def test_a_key_across_two_blocks_is_checked_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: int
) -> None:
    """With blocks of 16 bytes, the refund's key and what follows it fall on every possible split."""
    import poas.connectors.shopify_refund_lines as mod

    monkeypatch.setattr(mod, "BLOCK", 16)
    refund = b'{"refunds":[{"id":"x"}]}\n'
    path = tmp_path / "bulk.jsonl"
    path.write_bytes(b"x" * cut + EMPTY_ROW + b"y" * cut + refund)
    assert _may_have_refunds(path) is True
    path.write_bytes(b"x" * cut + EMPTY_ROW + b"y" * cut + EMPTY_ROW)
    assert _may_have_refunds(path) is False
