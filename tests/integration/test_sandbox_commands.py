"""`poas sandbox shopify` and `poas sandbox meta` (and plain `poas sandbox`) serve over real HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from test_shopify_sandbox import make_seed
from typer.testing import CliRunner

from poas.cli.app import app

POAS = [sys.executable, "-c", "from poas.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(args: list[str], probe: str) -> Iterator[str]:
    """Run `poas ARGS` until the block ends; yields the base URL once `probe` answers."""
    port = free_port()
    proc = subprocess.Popen(
        [*POAS, *args, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + probe, timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sandbox_shopify_serves_the_seed_and_checks_its_token(tmp_path: Path) -> None:
    seed = make_seed(tmp_path / "seed")
    with serving(
        ["sandbox", "shopify", "--seed", str(seed), "--token", "shpat_only"], "/_sandbox/stats"
    ) as url:
        query = {"query": "{ productVariants(first: 5) { nodes { sku } } }"}
        gql = url + "/admin/api/2025-10/graphql.json"
        assert httpx.post(gql, json=query, headers={"X-Shopify-Access-Token": "other"}).status_code == 401
        r = httpx.post(gql, json=query, headers={"X-Shopify-Access-Token": "shpat_only"})
        assert [n["sku"] for n in r.json()["data"]["productVariants"]["nodes"]][:2] == [
            "ULL-GENSER-M-GRA",
            "LUE-ULL-SORT",
        ]


def test_sandbox_meta_and_plain_sandbox_serve_the_meta_sandbox() -> None:
    for args in (["sandbox", "meta"], ["sandbox"]):
        with serving(args, "/_sandbox/stats") as url:
            assert httpx.get(url + "/_sandbox/stats").json()["requests"] == 0


def test_sandbox_shopify_names_a_bad_seed(tmp_path: Path) -> None:
    (tmp_path / "variants.csv").write_text("variant_id,sku\n1,A\n")
    result = CliRunner().invoke(app, ["sandbox", "shopify", "--seed", str(tmp_path)])
    assert result.exit_code == 1
    flat = "".join(result.output.split())
    assert "variants.csv:missingcolumn(s)product_title" in flat
    missing = CliRunner().invoke(app, ["sandbox", "shopify", "--seed", str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "notadirectory" in "".join(missing.output.split())
