"""Every `poas` command and every ingested order starts by importing poas: what they do not use must
not be imported then. scipy and numpy (the customer value model), the web stack (FastAPI, Starlette,
uvicorn, Jinja) and alembic took `import poas.cli` from 0.7 to 2.8 s on a 2-vCPU machine; they are
imported by the commands that use them. Checked in a fresh interpreter (sys.modules after import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("scipy", "numpy", "fastapi", "starlette", "uvicorn", "jinja2", "alembic")


def _imported(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return {m.split(".")[0] for m in json.loads(out.stdout.splitlines()[-1])}


@pytest.mark.parametrize(
    "module",
    [
        "poas.cli",  # every command
        "poas.services.ingest",  # webhooks, imports, reconciliation
        "poas.services.backfill",
        "poas.services.worker",
    ],
)
def test_starting_does_not_import_what_only_some_commands_use(module: str) -> None:
    loaded = _imported(f"import {module}")
    assert "poas" in loaded
    assert sorted(loaded & set(HEAVY)) == []


def test_opening_a_store_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'poas.db'}"
    first = _imported(f"from poas.services.database import open_store\nopen_store({url!r})")
    assert "alembic" in first  # a new store is migrated by alembic
    again = _imported(f"from poas.services.database import open_store\nopen_store({url!r})")
    assert "alembic" not in again


def test_the_commands_that_need_them_still_get_them() -> None:
    """The lazy imports resolve: the model fit, the sandboxes and the demo's web app."""
    loaded = _imported(
        "from poas.domain.ltv import fit_model, summarize\n"
        "s = summarize([('a', 0.0, 10.0), ('a', 30.0, 12.0), ('b', 5.0, 8.0)], 100.0)\n"
        "from poas.services.sandbox import new_sandbox_app\nnew_sandbox_app()\n"
        "from poas.services import google_ads_sandbox\ngoogle_ads_sandbox.new_google_ads_sandbox_app()\n"
        "from poas.domain.ltv import BgNbd\nimport numpy as np\n"
        "BgNbd(1.0, 10.0, 1.0, 1.0).expected_purchases(30.0, np.zeros(1), np.zeros(1), np.ones(1))"
    )
    assert {"scipy", "numpy", "fastapi"} <= loaded
