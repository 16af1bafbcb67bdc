"""The README's first two commands are the main job and the test run, and CI runs the second verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _first_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [b.strip() for b in blocks[:2]]


def test_first_command_runs_the_demo() -> None:
    main_job = _first_commands()[0]
    assert "poas demo" in main_job
    assert "pip install" in main_job


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = _first_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == test_command, f".ci/run must end with the README's test command {test_command!r}"
