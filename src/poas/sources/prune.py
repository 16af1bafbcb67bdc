"""Pruning a platform body down to what poas needs and what cannot identify a person.

Each source names its rules (`shopify.PRIVATE`, `woocommerce.PRIVATE`, `canonical_json.PRIVATE`):
keys dropped wherever they stand (contact data, free text, access keys, tracking), objects reduced to
a few fields (an address to its country and state, which decide the consent region), and lists of
`{name|key, value}` entries (Shopify note attributes and line properties, WooCommerce meta data)
kept only for the names that have a known use (consent signals, UTMs and click ids, unit costs).
Pruning never fails: a value of an unexpected type is kept as it is unless its key is dropped, and
anything nested deeper than any platform nests is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 16  # Shopify nests 7 deep (refunds > refund_line_items > line_item > tax_lines > price_set …)


@dataclass(frozen=True, slots=True)
class Rules:
    drop: frozenset[str]  # keys dropped wherever they stand
    reduce: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> the fields kept under it
    named: frozenset[str] = frozenset()  # lists of {name|key, value}: entries kept for known names only


def prune(value: Any, rules: Rules, known: Callable[[str], bool], depth: int = 0) -> Any:
    """`value` without what `rules` drop; `known(name)` says which named entries are kept."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in rules.drop:
                continue
            if k in rules.reduce:
                if isinstance(v, Mapping):
                    v = {f: v[f] for f in rules.reduce[k] if f in v}
                elif v is not None:
                    continue  # not the object it should be: nothing of it is known to be harmless
            elif k in rules.named:
                v = _named(v, known)
            out[k] = prune(v, rules, known, depth + 1)
        return out
    if isinstance(value, list):
        return [prune(v, rules, known, depth + 1) for v in value]
    return value


def _named(value: Any, known: Callable[[str], bool]) -> Any:
    if isinstance(value, Mapping):  # {"name": "value"} (an older Shopify shape of line properties)
        return {k: v for k, v in value.items() if isinstance(k, str) and known(k)}
    if not isinstance(value, list):
        return None
    kept = []
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("name", entry.get("key"))
        if isinstance(name, str) and known(name):
            kept.append(entry)
    return kept
