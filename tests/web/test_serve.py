"""`poas serve`: the web app and the delivery worker in one process, against the Meta sandbox."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
from browser_kit import seed_order, utcnow
from sqlalchemy import Engine, select

from conftest import web_settings
from poas.meta.sandbox import run_sandbox
from poas.services.deliver import DeliveryConfig, DeliveryReport
from poas.store.tables.delivery import outbox
from poas.web.server import free_port, serve_with_worker


def _states(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox.c.state).order_by(outbox.c.id)).scalars())


def test_serve_answers_http_and_delivers_the_outbox(engine: Engine, tmp_path: Path) -> None:
    with run_sandbox() as sandbox:
        settings = web_settings(tmp_path)
        settings.graph_base_url = sandbox.url
        seed_order(engine, settings.shops[0], utcnow())
        assert _states(engine) == ["pending"]  # ingest queued the Purchase; nothing sent it yet

        port = free_port()
        started = threading.Event()
        loop_box: dict[str, asyncio.AbstractEventLoop | asyncio.Event] = {}
        result: dict[str, DeliveryReport] = {}

        async def main() -> None:
            stop = asyncio.Event()
            loop_box["loop"], loop_box["stop"] = asyncio.get_running_loop(), stop
            result["report"] = await serve_with_worker(
                settings,
                engine,
                "127.0.0.1",
                port,
                delivery=DeliveryConfig(idle_poll_s=0.05),
                started=started,
                stop=stop,
                log_level="warning",
            )

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        assert started.wait(20), "poas serve did not start"
        try:
            for _ in range(400):  # the worker is a background loop: wait for it, at most ~20 s
                if _states(engine) == ["sent"]:
                    break
                time.sleep(0.05)
            assert _states(engine) == ["sent"]
            base = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{base}/healthz").json()["database"] == "ok"
            delivery = httpx.get(
                f"{base}/api/v1/delivery", headers={"Authorization": "Bearer browser-admin-token"}
            ).json()
            assert delivery["pixels"][0]["sent"] == 1 and delivery["depth"] == 0
            received = sandbox.events(pixel_id="1234567890", event_name="Purchase")
            assert [r["event"]["custom_data"]["order_id"] for r in received] == ["5001"]
        finally:
            loop = loop_box["loop"]
            assert isinstance(loop, asyncio.AbstractEventLoop)
            stop = loop_box["stop"]
            assert isinstance(stop, asyncio.Event)
            loop.call_soon_threadsafe(stop.set)
            thread.join(30)
        assert not thread.is_alive()
        assert result["report"].sent == 1
