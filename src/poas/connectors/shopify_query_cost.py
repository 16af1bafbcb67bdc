"""A GraphQL Admin API query's requested cost, as Shopify documents it, for the sandbox's throttling.

https://shopify.dev/docs/api/usage/limits#cost-calculation: scalars and enums cost 0, objects 1, a
connection is sized by its `first`/`last` argument, a mutation costs 10, and "a single query may not
exceed a cost of 1,000 points". A connection costs 2 plus `first` times one node's selection (the
documented example: `products(first: 1) { edges { node { title } } }` costs 3); a list field with a
`first` argument (`refunds(first: 5)`) is sized the same way; `nodes(ids:)` by the number of ids.
Shopify may set other costs on particular fields; the sandbox does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from poas.connectors.shopify_bulk_rules import BulkQueryError, Field, parse_selection

MAX_QUERY_COST = 1000
MUTATION_COST = 10


def _size(f: Field, variables: Mapping[str, Any]) -> int | None:
    for name in ("first", "last"):
        text = f.args.get(name)
        if text is None:
            continue
        value = variables.get(text[1:]) if text.startswith("$") else text
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None
    ids = f.args.get("ids")
    if ids is not None:
        value = variables.get(ids[1:]) if ids.startswith("$") else ids.strip("[]").split(",")
        return len(value) if isinstance(value, list) else None
    return None


def _selection(fields: list[Field], variables: Mapping[str, Any]) -> int:
    return sum(field_cost(f, variables) for f in fields)


def field_cost(f: Field, variables: Mapping[str, Any]) -> int:
    if not f.children:
        return 0  # a scalar or an enum
    size = _size(f, variables)
    if f.is_connection:
        node = 0
        for child in f.children:
            if child.name == "edges":
                node += sum(1 + _selection(n.children, variables) for n in child.children if n.name == "node")
            elif child.name == "nodes":
                node += 1 + _selection(child.children, variables)
        return 2 + (size or 0) * node
    if size is not None:  # a sized list: nodes(ids:), refunds(first:)
        return size * (1 + _selection(f.children, variables))
    return 1 + _selection(f.children, variables)


def requested_cost(query: str, variables: Mapping[str, Any] | None = None) -> int:
    """The query's requested cost (a mutation costs MUTATION_COST); an unreadable query costs 1."""
    if re.match(r"\s*mutation\b", query):
        return MUTATION_COST
    try:
        roots = parse_selection(query)
    except BulkQueryError:
        return 1
    return _selection(roots, variables or {})
