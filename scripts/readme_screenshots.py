"""The README's two dashboard screenshots, from a real demo run: the overview and the order whose
AppendValue correction the demo names, at 1440 px in Debian's chromium (never a downloaded browser).
Prints the run's story lines and its first-party vs Meta-reported table for the README's quoted run.

    .venv/bin/python scripts/readme_screenshots.py [--out docs/screenshots] [--days 60]

The demo runs in a temporary folder (its store, sandbox and web app) that is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from poas.cli.demo_run import Demo, DemoOptions, DemoResult
from poas.cli.demo_story import demo_document, story_lines

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("POAS_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
WIDTH, MAX_HEIGHT = 1440, 1100  # a README image: the top of the page, not every row
MAX_BYTES = 300_000


def shoot(page: Page, url: str, path: Path) -> int:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)  # let the charts finish their entry animation
    height = min(int(page.evaluate("document.documentElement.scrollHeight")), MAX_HEIGHT)
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": WIDTH, "height": height}, full_page=True)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{path}: {size} bytes, more than {MAX_BYTES}")
    return size


def _kr(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def print_story(result: DemoResult) -> None:
    print("\n".join(story_lines(result)))
    doc = demo_document(result)
    print(
        "\n| campaign | spend | orders | Meta purchases | revenue ex VAT | Meta value | ROAS | Meta ROAS "
        "| POAS after returns |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in [*(r for r in doc["campaigns"] if r["campaign_id"]), doc["campaigns_total"]]:
        print(
            f"| {r['campaign']} | {_kr(r['spend'])} | {r['orders']} | {r['meta_purchases']} | "
            f"{_kr(r['revenue'])} | {_kr(r['meta_value'])} | {r['roas']:.2f} | {r['meta_roas']:.2f} | "
            f"{r['poas_expected']:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    defaults = DemoOptions(home=Path())  # the demo's own defaults: what `poas demo` runs
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--orders-per-day", type=int, default=defaults.orders_per_day)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="poas-screens-") as home:
        options = DemoOptions(home=Path(home), days=args.days, orders_per_day=args.orders_per_day)
        with Demo(options) as demo:
            with ThreadPoolExecutor(1) as pool:  # the demo runs its own event loop; keep it off this thread
                result = pool.submit(demo.run).result()
            print_story(result)
            example = result.corrections.example() if result.corrections else None
            if example is None:
                raise SystemExit("the demo sent no AppendValue correction to show")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
                page = browser.new_page(viewport={"width": WIDTH, "height": 900})
                page.goto(f"{demo.web.url}/login")
                page.fill("#password", demo.admin_password or "")
                page.click("button[type=submit]")
                page.wait_for_url(f"{demo.web.url}/")
                for name, path in (
                    ("overview.png", "/"),
                    ("order-appendvalue.png", f"/orders/{demo.shop.id}/{example.order_id}"),
                ):
                    size = shoot(page, demo.web.url + path, args.out / name)
                    print(f"{args.out / name}: {size} bytes ({path})")
                browser.close()


if __name__ == "__main__":
    main()
