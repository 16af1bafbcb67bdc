"""Benchmark: how long a `poas` command takes to start (wall clock, a fresh interpreter each time).

Usage: .venv/bin/python bench/cli_startup.py [--runs 7] [--src DIR]
Times `import poas.cli` (what every command pays before it does anything), `poas --help`, and
`poas db upgrade` on a store already at head (a command that opens the store). Byte-code caching is
on (as for an installed package; the first, warming run writes it). `--src DIR` times another
checkout's `src` instead (PYTHONPATH), to compare before and after. Writes
bench/results/cli_startup.json with the minimum and median of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from machine_info import machine  # noqa: E402

CLI = "from poas.cli import main; main()"


def _timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(runs: int, src: Path | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    home = tempfile.mkdtemp(prefix="poas-startup-")
    env["POAS_HOME"] = home
    py = sys.executable
    cases = {
        "import poas.cli": [py, "-c", "import poas.cli"],
        "poas --help": [py, "-c", CLI, "--help"],
        "poas db upgrade (store at head)": [py, "-c", CLI, "db", "upgrade"],
    }
    out: dict[str, Any] = {}
    for name, args in cases.items():
        _timed(args, env)  # writes the byte-code cache, and for `db upgrade` migrates the new store
        times = [_timed(args, env) for _ in range(runs)]
        out[name] = {"min_s": round(min(times), 3), "median_s": round(statistics.median(times), 3)}
        print(f"{name:34} min {min(times):.2f} s  median {statistics.median(times):.2f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--src", type=Path, default=None, help="time this checkout's src instead")
    args = ap.parse_args()
    info = machine()
    print(json.dumps(info, indent=1))
    result = {"machine": info, "src": str(args.src or ROOT / "src"), "runs": args.runs}
    result["startup"] = measure(args.runs, args.src)
    if args.src is None:
        path = ROOT / "bench" / "results" / "cli_startup.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
