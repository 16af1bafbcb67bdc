"""Imports point downward only: domain < adapters (store, meta, sources) < services < faces (web, cli).

The faces are thin (docs: ARCHITECTURE.md, "Layers"): they import services, `poas.settings` and the
domain (types and pure functions) and never an adapter; from SQLAlchemy they name only `Engine`, the
handle they pass to the services, so no query or table can creep back into a face.
"""

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
    "connectors": 1,
    "google": 1,
    "services": 2,
    "web": 3,
    "cli": 3,
}
# Which adapters may import which other adapters (the sandbox is a fake Graph API living beside the client).
# The CLI may start the web face (`poas web`, `poas serve`, the demo); the web never imports the CLI.
ALLOWED_SIDEWAYS = {
    *(("meta", "meta"), ("store", "store"), ("sources", "sources"), ("cli", "web")),
    *(("connectors", "connectors"), ("connectors", "sources")),  # platform clients parse with sources/
    ("google", "google"),  # the Google sandbox lives beside the Data Manager client
}

FACES = ("web", "cli")
# What a face may import from poas besides its own package (and the package root, which holds the version).
FACE_MAY_IMPORT = {"services", "domain", "settings"}
FACE_SQLALCHEMY_NAMES = {"Engine"}


def _package(path: Path) -> list[str]:
    """The dotted package a file's relative imports start from (`poas.web` for web/app.py)."""
    parts = ["poas", *path.relative_to(SRC).with_suffix("").parts]
    return parts[:-1] if len(parts) > 1 else parts


def _imports(tree: ast.Module, package: list[str]) -> list[tuple[str, list[str]]]:
    """Every import as (absolute module, names taken from it); `from poas import store` also counts as
    the module `poas.store`, and relative imports are resolved against `package`."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names = [alias.name for alias in node.names]
            found.append((module, names))
            if module == "poas":
                found.extend((f"poas.{name}", []) for name in names)
    return found


def _parse(path: Path) -> list[tuple[str, list[str]]]:
    return _imports(ast.parse(path.read_text()), _package(path))


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "poas":
        return None
    return parts[1] if parts[1] in LAYER else None


def _files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _face_files() -> list[Path]:
    return sorted(p for face in FACES for p in (SRC / face).rglob("*.py"))


def _face_may_import(module: str, names: list[str], own: str) -> bool:
    parts = module.split(".")
    if parts[0] == "sqlalchemy":
        return module == "sqlalchemy" and bool(names) and set(names) <= FACE_SQLALCHEMY_NAMES
    if parts[0] != "poas" or len(parts) == 1:
        return True
    top = parts[1]
    return top in FACE_MAY_IMPORT or top == own or (own, top) in ALLOWED_SIDEWAYS or top == "__version__"


def face_violations(imports: list[tuple[str, list[str]]], own: str) -> list[str]:
    """What a module of the face `own` imports that a face may not."""
    return [
        f"{module} {', '.join(names)}".strip() if module.startswith("sqlalchemy") else module
        for module, names in imports
        if not _face_may_import(module, names, own)
    ]


def _rel(path: Path) -> str:
    return str(path.relative_to(SRC))


@pytest.mark.parametrize("path", _files(), ids=_rel)
def test_imports_point_downward(path: Path) -> None:
    own = path.relative_to(SRC).parts[0]
    if own not in LAYER:
        return
    for module, _ in _parse(path):
        other = _layer_of(module)
        if other is None or other == own:
            continue
        assert LAYER[other] < LAYER[own] or (own, other) in ALLOWED_SIDEWAYS, (
            f"{_rel(path)} ({own}) imports {module} ({other}): imports must point downward"
        )


@pytest.mark.parametrize("path", _face_files(), ids=_rel)
def test_faces_import_services_settings_and_domain_only(path: Path) -> None:
    own = path.relative_to(SRC).parts[0]
    bad = face_violations(_parse(path), own)
    assert not bad, (
        f"{_rel(path)} imports {bad}: a face imports services, poas.settings and the domain only "
        "(and from SQLAlchemy just Engine); put the store / Meta / source work behind a service"
    )


@pytest.mark.parametrize(
    ("source", "own", "caught"),
    [
        ("from poas.store import inbox", "cli", ["poas.store"]),
        ("from poas import store", "web", ["poas.store"]),
        ("import poas.meta.capi", "web", ["poas.meta.capi"]),
        ("from ..sources.payload import PayloadError", "web", ["poas.sources.payload"]),
        ("from poas.web.server import run_web", "web", []),
        ("from poas.web.server import run_web", "cli", []),
        ("from poas.cli.app import app", "web", ["poas.cli.app"]),
        ("from sqlalchemy import Engine, select", "web", ["sqlalchemy Engine, select"]),
        ("from sqlalchemy.exc import SQLAlchemyError", "cli", ["sqlalchemy.exc SQLAlchemyError"]),
        ("import sqlalchemy", "cli", ["sqlalchemy"]),
        ("from sqlalchemy import Engine", "cli", []),
        (
            "from poas.services.report import build_report\nfrom poas.domain.money import Money\n"
            "from poas.settings import Settings\nfrom poas import __version__",
            "cli",
            [],
        ),
    ],
)
def test_the_face_rule_catches_what_it_should(source: str, own: str, caught: list[str]) -> None:
    package = ["poas", own]  # as for a module directly in the face's package
    assert face_violations(_imports(ast.parse(source), package), own) == caught


def test_domain_imports_no_io_libraries() -> None:
    banned = {"sqlalchemy", "httpx", "fastapi", "typer", "rich", "alembic", "uvicorn", "structlog"}
    for path in (SRC / "domain").rglob("*.py"):
        for module, _ in _parse(path):
            assert module.split(".")[0] not in banned, f"domain/{path.name} imports {module}"
