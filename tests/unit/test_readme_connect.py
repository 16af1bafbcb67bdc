"""README: "Connect your shop" is the first path (before costs by CSV and hand-registered webhooks,
which stay as the fallback)."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _at(heading: str) -> int:
    position = README.find(f"\n### {heading}\n")
    assert position >= 0, f"README has no '### {heading}'"
    return position


def test_connect_your_shop_comes_before_the_manual_paths() -> None:
    connect = _at("Connect your shop")
    assert connect < _at("Costs") < _at("Webhooks and other order sources")
    section = README[connect : _at("Costs")]
    for command in ("poas connect shopify", "poas connect woocommerce", "poas sync"):
        assert command in section
    assert "docs/connect.md" in section
    # the manual paths are still there, as the fallback
    assert "poas import costs" in README
