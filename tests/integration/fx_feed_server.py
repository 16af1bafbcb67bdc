"""A local HTTP server standing in for the ECB's eurofxref files and Norges Bank's EXR API.

It serves the payloads in tests/fixtures/fx the way the originals do: the ECB's files by name, and
Norges Bank's observations filtered by the series key's currencies and startPeriod/endPeriod. A
Norges Bank query with no observation in its period gets 404 (what SDMX REST services answer for
"no results"; UNCONFIRMED for Norges Bank). `fail_with` makes every answer that HTTP status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from local_http import serve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fx"
ECB_PATH = "/stats/eurofxref/"
NB_PATH = "/api/data/EXR/"
# The full history file has the same layout; the recorded 90-day file stands in for it.
ECB_FILES = {
    "eurofxref-daily.xml": "eurofxref-daily.xml",
    "eurofxref-hist-90d.xml": "eurofxref-hist-90d.xml",
    "eurofxref-hist.xml": "eurofxref-hist-90d.xml",
}


@dataclass
class FxFeeds:
    url: str
    requests: list[str] = field(default_factory=list)  # path?query of every request, in order
    fail_with: int | None = None
    ecb_payloads: dict[str, bytes] = field(default_factory=dict)  # overrides by file name

    @property
    def ecb_url(self) -> str:
        return self.url + ECB_PATH.rstrip("/")

    @property
    def norges_bank_url(self) -> str:
        return self.url + "/api"


def _norges_bank(path: str, query: dict[str, list[str]]) -> tuple[int, bytes]:
    key = path.removeprefix(NB_PATH)
    parts = key.split(".")
    if len(parts) != 4 or parts[0] != "B" or parts[2:] != ["NOK", "SP"]:
        return 404, b"No results found: the key must be B.<CUR+CUR>.NOK.SP"
    if query.get("format") != ["csv"]:
        return 406, b"this fake serves format=csv only"
    wanted = set(parts[1].split("+")) - {""}
    start = date.fromisoformat(query.get("startPeriod", ["1900-01-01"])[0])
    end = date.fromisoformat(query.get("endPeriod", ["2999-12-31"])[0])
    header, *rows = (FIXTURES / "norges-bank-exr.csv").read_text().splitlines()
    kept = [
        r
        for r in rows
        if (not wanted or r.split(";")[2] in wanted) and start <= date.fromisoformat(r.split(";")[14]) <= end
    ]
    if not kept:
        return 404, b"No results found"
    return 200, ("\n".join([header, *kept]) + "\n").encode()


@contextmanager
def serve_fx_feeds() -> Iterator[FxFeeds]:
    feeds = FxFeeds(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feeds.requests.append(self.path)
            split = urlsplit(self.path)
            name = split.path.removeprefix(ECB_PATH)
            if feeds.fail_with is not None:
                status, body, kind = feeds.fail_with, b"Service Unavailable", "text/plain"
            elif split.path.startswith(ECB_PATH) and name in ECB_FILES:
                body = feeds.ecb_payloads.get(name) or (FIXTURES / ECB_FILES[name]).read_bytes()
                status, kind = 200, "text/xml"
            elif split.path.startswith(NB_PATH):
                status, body = _norges_bank(split.path, parse_qs(split.query))
                kind = "text/csv; charset=utf-8" if status == 200 else "text/plain"
            else:
                status, body, kind = 404, b"Not Found", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            return

    with serve(Handler) as url:
        feeds.url = url
        yield feeds
