"""The async examples of docs/client.md run for real: the Starlette recipe under uvicorn, the test.

The recipe is copied from the page into a module, served by uvicorn in its own process on
127.0.0.1, called by a real HTTP client, and stopped with SIGTERM (so its lifespan closes the
client); the page's async test example runs in a fresh pytest process with no extra plugin.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
from support import REPO

from ga_ee_bridge import Spool
from ga_ee_bridge.testing.server import ExponeaServer

DOC = REPO / "docs" / "client.md"
PURCHASE = {"currencyCode": "EUR", "purchase": {
    "actionField": {"id": "T1", "revenue": "35.43"},
    "products": [{"id": "P1", "name": "Shirt", "price": "15.25", "quantity": 1},
                 {"id": "P2", "name": "Hat", "price": 10, "quantity": 2}]}}


def _block_after(heading: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    match = re.compile(r"^```python\n(.*?)^```", re.S | re.M).search(text, start)
    assert match is not None, heading
    return match.group(1)


class _Uvicorn:
    """``python -m uvicorn shop:app`` in a child process; the port is read from its log."""

    def __init__(self, app_dir: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "shop:app", "--host", "127.0.0.1", "--port", "0",
             "--app-dir", str(app_dir)],
            env={**os.environ, **env}, stderr=subprocess.PIPE, text=True)
        self.log: list[str] = []
        found = threading.Event()
        self.url = ""

        def read() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.log.append(line)
                match = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
                if match:
                    self.url = match.group(1)
                    found.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not found.wait(30):
            self.process.kill()
            raise AssertionError("uvicorn did not start:\n" + "".join(self.log))

    def stop(self) -> float:
        """SIGTERM (what a deploy sends), wait for the exit; returns how long shutdown took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        self._reader.join(5)
        return time.monotonic() - started


def test_the_starlette_recipe_under_uvicorn(exponea_server: ExponeaServer,
                                            tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(_block_after("### A Starlette or FastAPI app"))
    spool = tmp_path / "exponea.db"
    app = _Uvicorn(tmp_path, {
        "EXPONEA_PROJECT_TOKEN": exponea_server.project_token,
        "EXPONEA_API_KEY_ID": exponea_server.api_key_id,
        "EXPONEA_API_SECRET": exponea_server.api_secret,
        "EXPONEA_BASE_URL": exponea_server.url, "EXPONEA_SPOOL": str(spool)})
    try:
        with httpx.Client(base_url=app.url, timeout=10) as http:
            for n in range(10):
                order = {"email": f"Buyer{n}@Example.com", "first_name": f"B{n}",
                         "ecommerce": PURCHASE}
                response = http.post("/checkout/confirm", json=order, headers={
                    "Cookie": f"__exponea_etc__=etc-{n}",
                    "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) "
                                  "AppleWebKit/605.1.15"})
                assert response.status_code == 200 and response.json() == {"ok": True}
            logout = http.post("/logout", headers={"Cookie": "__exponea_etc__=etc-0"})
            assert logout.status_code == 200
            new_cookie = logout.cookies["__exponea_etc__"]
            assert uuid.UUID(new_cookie).version == 4 and new_cookie != "etc-0"
    finally:
        shutdown = app.stop()
    # uvicorn re-raises the SIGTERM it handled once the lifespan has shut down
    assert "Application shutdown complete." in "".join(app.log), "".join(app.log)
    assert shutdown < 10
    customers = exponea_server.customers
    assert sorted(c["customer_ids"]["cookie"] for c in customers) == sorted(
        f"etc-{n}" for n in range(10))
    assert {c["customer_ids"]["registered"] for c in customers} == {
        f"buyer{n}@example.com" for n in range(10)}
    events = exponea_server.events
    assert len(events) == 30
    assert all(e["customer_ids"]["registered"].startswith("buyer") for e in events)
    assert {e["properties"]["location"] for e in events} == {f"{app.url}/checkout/confirm"}
    assert {e["properties"]["os"] for e in events} == {"iOS"}
    assert Spool(spool).counts() == {"pending": 0, "dead": 0}


def test_the_async_testing_example_runs_with_no_extra_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(_block_after("### Testing async code"))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                          "no:hypothesispytest",
                          str(tmp_path / "test_example.py")], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout

