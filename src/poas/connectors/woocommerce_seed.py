"""The WooCommerce sandbox's seed: `orders/*.json` (REST v3 order bodies) and `variants.csv`
(`variant_id,sku,product_title,variant_title,product_type,unit_cost,currency`) turned into the orders,
products and variations the sandbox serves.

A product title with one row and no variant title is a simple product whose id is the row's
`variant_id`; otherwise the rows are the variations of a variable product, whose id is taken from the
seed orders' line items (`product_id` next to a matching `variation_id`) or, when no order names it,
allocated from 900000 up.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson

VARIANT_COLUMNS = (
    "variant_id",
    "sku",
    "product_title",
    "variant_title",
    "product_type",
    "unit_cost",
    "currency",
)
_FIRST_SYNTHETIC_ID = 900000


class WooSeedError(ValueError):
    """A seed file that cannot be read: the message names the file and the row or field."""


@dataclass(frozen=True, slots=True)
class SeedVariant:
    variant_id: int
    sku: str
    product_title: str
    variant_title: str
    product_type: str
    unit_cost: Decimal | None
    currency: str


@dataclass(slots=True)
class SeedProduct:
    id: int
    name: str
    product_type: str
    simple: SeedVariant | None = None  # a simple product's own row
    variations: list[SeedVariant] = field(default_factory=list)


@dataclass(slots=True)
class WooSeed:
    orders: list[dict[str, Any]] = field(default_factory=list)
    products: list[SeedProduct] = field(default_factory=list)


def _int(value: str, where: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise WooSeedError(f"{where}: {value!r} is not a whole number") from None
    if number <= 0:
        raise WooSeedError(f"{where}: must be positive")
    return number


def read_variants(path: Path) -> list[SeedVariant]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WooSeedError(f"{path}: cannot read: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in VARIANT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise WooSeedError(f"{path}: missing column(s) {', '.join(missing)}")
    rows: list[SeedVariant] = []
    for n, row in enumerate(reader, start=2):
        where = f"{path} line {n}"
        cost_text = (row["unit_cost"] or "").strip()
        try:
            cost = Decimal(cost_text) if cost_text else None
        except InvalidOperation:
            raise WooSeedError(f"{where}: unit_cost {cost_text!r} is not a number") from None
        if cost is not None and cost < 0:
            raise WooSeedError(f"{where}: unit_cost must not be negative")
        title = (row["product_title"] or "").strip()
        if not title:
            raise WooSeedError(f"{where}: product_title is required")
        rows.append(
            SeedVariant(
                variant_id=_int(row["variant_id"] or "", f"{where}: variant_id"),
                sku=(row["sku"] or "").strip(),
                product_title=title,
                variant_title=(row["variant_title"] or "").strip(),
                product_type=(row["product_type"] or "").strip(),
                unit_cost=cost,
                currency=(row["currency"] or "").strip().upper(),
            )
        )
    return rows


def read_orders(folder: Path) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        try:
            body = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise WooSeedError(f"{path}: not JSON ({exc})") from None
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise WooSeedError(f"{path}: not a WooCommerce order (an object with an integer id)")
        orders.append(body)
    return orders


def build_products(variants: Iterable[SeedVariant], orders: Iterable[dict[str, Any]]) -> list[SeedProduct]:
    """Group the variant rows into products (see the module docstring for the ids)."""
    parent_of: dict[int, int] = {}
    for order in orders:
        for li in order.get("line_items") or []:
            vid, pid = li.get("variation_id"), li.get("product_id")
            if isinstance(vid, int) and vid and isinstance(pid, int) and pid:
                parent_of[vid] = pid
    groups: dict[str, list[SeedVariant]] = {}
    for v in variants:
        groups.setdefault(v.product_title, []).append(v)
    products: list[SeedProduct] = []
    used = {v.variant_id for rows in groups.values() for v in rows} | set(parent_of.values())
    next_id = _FIRST_SYNTHETIC_ID
    for title, rows in groups.items():
        if len(rows) == 1 and not rows[0].variant_title:
            products.append(SeedProduct(rows[0].variant_id, title, rows[0].product_type, simple=rows[0]))
            continue
        pid = next((parent_of[v.variant_id] for v in rows if v.variant_id in parent_of), None)
        if pid is None:
            while next_id in used:
                next_id += 1
            pid = next_id
            used.add(pid)
        products.append(SeedProduct(pid, title, rows[0].product_type, variations=list(rows)))
    return products


def load_seed(folder: Path) -> WooSeed:
    """Read a seed directory; either part may be missing."""
    if not folder.is_dir():
        raise WooSeedError(f"{folder}: not a directory")
    orders = read_orders(folder / "orders") if (folder / "orders").is_dir() else []
    variants = read_variants(folder / "variants.csv") if (folder / "variants.csv").exists() else []
    return WooSeed(orders, build_products(variants, orders))
