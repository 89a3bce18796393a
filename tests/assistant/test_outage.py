"""PostgreSQL stopped under a running web server: requests fail fast with a 503 that says so,
and once it is back requests work again, with no restart."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from assistant.lib.embedded_db import EmbeddedPostgres
from tests.conftest import manage
from tests.support import app_server

pytestmark = pytest.mark.slow


def test_an_outage_is_a_quick_503_and_requests_work_again_without_a_restart(newcomer_env):
    var = Path(newcomer_env["VAR_DIR"])
    database = EmbeddedPostgres(
        data_dir=var / "postgres" / "data", port=int(newcomer_env["EMBEDDED_PG_PORT"])
    )
    database.ensure_running()
    assert manage("migrate", "-v0", env=newcomer_env).returncode == 0
    manage("createsuperuser", "--noinput", "--username", "ops", "--email", "", env=newcomer_env)
    token = manage("create_api_token", "ops", env=newcomer_env).stdout.strip()
    process, url = app_server.start(newcomer_env | {"DATABASE_URL": database.url})
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=20)

    def search() -> httpx.Response:
        return client.post("/api/v1/search", json={"query": "backups"})

    try:
        before = search()
        database.stop()
        api_down = search()
        page_down = client.get("/")
        database.ensure_running()
        # The pool reconnects in the background, with backoff: give it a few seconds.
        deadline = time.monotonic() + 30
        while (
            after := client.post("/api/v1/search", json={"query": "backups"})
        ).status_code != 200:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert before.status_code == 200
    assert api_down.status_code == 503
    assert api_down.json()["error"]["code"] == "unavailable"
    assert "database is not answering" in api_down.json()["error"]["message"]
    assert api_down.headers["Retry-After"] == "30"
    assert page_down.status_code == 503
    assert "database is not answering" in page_down.text
    assert after.status_code == 200, after.text
