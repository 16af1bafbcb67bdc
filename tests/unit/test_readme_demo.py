"""The README's claims about `poas demo` hold: its period is the demo's default, its quoted run is worded
as the demo prints it (and sent corrections), and its two dashboard screenshots are small 1440 px PNGs."""

from __future__ import annotations

import re
import struct
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import product
from pathlib import Path
from typing import Any, cast

import typer

from poas.cli.app import app
from poas.cli.demo_run import DEFAULT_DAYS, DEFAULT_ORDERS_PER_DAY, DemoResult
from poas.cli.demo_story import TRIGGERS, story_lines
from poas.domain.cohorts import Cohort
from poas.services.cohorts import CohortReport
from poas.services.correction_log import CorrectionSummary, SentCorrection

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
NUMBER = re.compile(r"−?\d[\d ]*(?:\.\d+)?")
D = Decimal


def _story_block() -> list[str]:
    found = re.search(r"<!-- demo-story -->\s*```text\n(.*?)```", README, re.DOTALL)
    assert found, "README has no <!-- demo-story --> block"
    return [line for line in found.group(1).splitlines() if line.strip()]


def _shape(line: str) -> str:
    """The line with every number as #: what the demo's wording is, whatever the run's figures."""
    return NUMBER.sub("#", line)


def _cohorts(first: int, at90: int) -> CohortReport:
    """A campaign's customers: first orders `first` and 90-day profit `at90` (minor units) on 10 000."""
    video = Cohort(
        "1",
        "Merkevare Video",
        customers=80,
        first_order_profit_minor=first,
        spend_minor=1_000_000,
        matured={90: 40},
        profit_minor={90: at90},
    )
    return CohortReport(
        "demo", "NOK", "campaign", "expected", datetime(2026, 1, 1, tzinfo=UTC), None, None, [video]
    )


def _printed_shapes() -> set[str]:
    """Every line shape `story_lines` can print (each trigger, with and without a negative profit, and
    each customer line: weak then strong, strong then weak, neither)."""
    shapes: set[str] = set()
    stories = (_cohorts(400_000, 1_000_000), _cohorts(1_500_000, 250_000), _cohorts(1_200_000, 1_000_000))
    for (trigger, final), cohorts in product(product(TRIGGERS, (D("12.50"), D("-43.93"))), stories):
        example = SentCorrection(
            "6100000001001", trigger, "NOK", D("1548"), D("373.82"), final, max(final, D(0)), "sent"
        )
        summary = CorrectionSummary(1, 1, 9, 0, (example,))
        counts = {"generated_orders": 1000, "sandbox_AppendValue": 1, "webhooks_accepted": 1100}
        result = DemoResult(
            Path("x"),
            date(2026, 1, 1),
            date(2026, 1, 1) + timedelta(days=DEFAULT_DAYS - 1),
            cast(Any, None),  # the story lines read no report or advice
            cast(Any, None),
            counts,
            summary,
            cohorts,
        )
        shapes.update(_shape(line) for line in story_lines(result))
    return shapes


def test_the_readme_states_the_demos_default_period() -> None:
    said = re.search(r"(\d+) days of orders \(about (\d+) a\s+day\)", README)
    assert said, "README does not say how many days of orders the demo has"
    assert (int(said.group(1)), int(said.group(2))) == (DEFAULT_DAYS, DEFAULT_ORDERS_PER_DAY)
    params = {p.name: p.default for p in typer.main.get_command(app).commands["demo"].params}  # type: ignore[attr-defined]
    assert (params["days"], params["orders_per_day"]) == (DEFAULT_DAYS, DEFAULT_ORDERS_PER_DAY)


def test_the_readmes_quoted_run_is_worded_as_the_demo_prints_it() -> None:
    lines = _story_block()
    shapes = _printed_shapes()
    for line in lines:
        assert _shape(line) in shapes, f"the demo prints no line like: {line}"
    assert re.search(rf"over {DEFAULT_DAYS} days:", lines[0])
    sent = next(line for line in lines if "AppendValue corrections sent" in line)
    assert int(sent.split()[0]) > 0
    assert any(line.startswith("example: order ") for line in lines)
    customers = next(line for line in lines if line.startswith("customers, not orders: "))
    assert "within 90 days of the first order" in customers  # the horizon (#19)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_readme_shows_two_small_dashboard_screenshots() -> None:
    images = re.findall(r"!\[[^\]]+\]\((docs/screenshots/[\w.-]+\.png)\)", README)
    assert len(images) == 2
    for rel in images:
        path = ROOT / rel
        assert path.is_file(), rel
        assert path.stat().st_size < 300_000, rel
        width, height = _png_size(path)
        assert width == 1440 and 600 <= height <= 2000, (rel, width, height)
