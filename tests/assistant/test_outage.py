"""PostgreSQL stopped under a running web server: requests fail fast with a 503 that says so,
and once it is back requests work again, with no restart."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from assistant.lib.embedded_db import EmbeddedPostgres
from tests.conftest import manage, qwen_env
from tests.support import app_server
from tests.support.qwen_standin import Reply
from tests.support.sse import read_events

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


GUIDE = "# Quotas\n\nEach person may ask 200 questions a day. Administrators can raise it.\n"


def test_postgres_stopped_mid_stream_the_answer_ends_with_its_text_charged_once(
    newcomer_env, standin, tmp_path
):
    var = Path(newcomer_env["VAR_DIR"])
    database = EmbeddedPostgres(
        data_dir=var / "postgres" / "data", port=int(newcomer_env["EMBEDDED_PG_PORT"])
    )
    database.ensure_running()
    (tmp_path / "guide.md").write_text(GUIDE)
    assert manage("migrate", "-v0", env=newcomer_env).returncode == 0
    ingested = manage(
        "ingest", str(tmp_path), "--collection", "Guide", "--public", "--wait", env=newcomer_env
    )
    assert ingested.returncode == 0, ingested.stderr
    manage("createsuperuser", "--noinput", "--username", "ops", "--email", "", env=newcomer_env)
    token = manage("create_api_token", "ops", env=newcomer_env).stdout.strip()
    standin.script(Reply(chunks=[f"word{i} " for i in range(40)], chunk_delay_s=0.15))
    env = (
        newcomer_env
        | qwen_env(standin)
        | {"DATABASE_URL": database.url, "ANSWER_HEARTBEAT_S": "0.5"}
    )
    process, url = app_server.start(env)
    client = httpx.Client(
        base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=90
    )
    back = threading.Timer(3, database.ensure_running)
    try:
        events = []
        body = {"question": "How many questions a day?", "stream": True}
        with client.stream("POST", "/ask", json=body) as response:
            for event in read_events(response):
                events.append(event)
                if event.name == "delta" and not back.is_alive() and not back.finished.is_set():
                    database.stop()  # mid-stream, for three seconds
                    back.start()
        back.join()
        done = json.loads(events[-1].data)
        usage = client.get("/usage").json()
        with psycopg.connect(database.url) as db:
            recorded = db.execute(
                "SELECT sum(prompt_tokens + completion_tokens), count(*) FILTER (WHERE kind = "
                "'answer') FROM assistant_llmcall WHERE message_id = %s",
                [done["message_id"]],
            ).fetchone()
        again = client.post("/ask", json={"question": "Who can raise the limit?"})
    finally:
        back.cancel()
        process.terminate()
        process.wait(timeout=30)

    assert events[-1].name == "done"
    assert done["status"] == "succeeded"
    assert done["answer"] == "".join(f"word{i} " for i in range(40))
    assert recorded[1] == 1, "one answer call, recorded once"
    assert usage["tokens_today"] == recorded[0], "charged once, for what its calls used"
    assert again.status_code == 200, "the next question works, no restart"
