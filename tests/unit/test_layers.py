"""Imports point downward only: domain < adapters (store, meta, sources) < services < faces (web, cli)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "poas"

LAYER = {
    "domain": 0,
    "store": 1,
    "meta": 1,
    "sources": 1,
    "services": 2,
    "web": 3,
    "cli": 3,
}
# Which adapters may import which other adapters (the sandbox is a fake Graph API living beside the client).
# The CLI may start the web face (`poas web`, `poas serve`); the web never imports the CLI.
ALLOWED_SIDEWAYS = {("meta", "meta"), ("store", "store"), ("sources", "sources"), ("cli", "web")}


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "poas":
        return None
    return parts[1] if parts[1] in LAYER else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def _files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_downward(path: Path) -> None:
    own = path.relative_to(SRC).parts[0]
    if own not in LAYER:
        return
    for module in _imports(path):
        other = _layer_of(module)
        if other is None or other == own:
            continue
        assert LAYER[other] < LAYER[own] or (own, other) in ALLOWED_SIDEWAYS, (
            f"{path.relative_to(SRC)} ({own}) imports {module} ({other}): imports must point downward"
        )


def test_domain_imports_no_io_libraries() -> None:
    banned = {"sqlalchemy", "httpx", "fastapi", "typer", "rich", "alembic", "uvicorn", "structlog"}
    for path in (SRC / "domain").rglob("*.py"):
        for module in _imports(path):
            assert module.split(".")[0] not in banned, f"domain/{path.name} imports {module}"
