"""`manage.py run` (what `make run` calls) as an operator meets its faults: a web server or a
Celery worker killed outright is started again, and nothing it or the app started outlives it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from assistant.lib.ports import free_port
from assistant.llm.gguf_server import MODEL_ALIAS
from assistant.supervisor import BACKFILL_NICE, local_model_env
from ingest.models import Collection
from tests.conftest import ROOT, manage, qwen_env, worker_database_url
from tests.support import app_server
from tests.support.documents import ingest_text
from tests.support.qwen_standin import DEFAULT_TEXT, Reply
from tests.support.sse import read_events

GUIDE = "# Quotas\n\nEach person may ask 200 questions a day.\n"

pytestmark = pytest.mark.slow


def children(parent: int) -> dict[int, str]:
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and _field(proc, "PPid") == parent:
                found[int(proc.name)] = (
                    (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError):
            continue
    return found


def group(pgid: int) -> set[int]:
    members = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.getpgid(int(proc.name)) == pgid:
                members.add(int(proc.name))
        except (OSError, ValueError):
            continue
    return members


def _field(proc: Path, name: str) -> int:
    for line in (proc / "status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise ValueError(name)


def the_child(parent: int, word: str) -> int:
    [pid] = [pid for pid, command in children(parent).items() if word in command]
    return pid


def passages_waiting(env: dict[str, str]) -> int:
    """What the app's background legs still have to do, asked of its database."""
    shell = manage("shell", "-c", "from ingest import backfill; print(backfill.waiting())", env=env)
    return int(shell.stdout.strip().splitlines()[-1])


def wait_until(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := predicate():
                return result
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def start_app(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """`manage.py run` on a free port, once it serves."""
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: httpx.get(f"{url}/api/v1/health").status_code == 200, timeout=240, what="the app"
    )
    return app, url


def ctrl_c(app: subprocess.Popen) -> None:
    app.send_signal(signal.SIGINT)
    app.wait(timeout=90)


def test_killed_web_server_and_worker_come_back_and_nothing_outlives_the_app(
    newcomer_env, tmp_path
):
    log = tmp_path / "run.log"
    app, url = start_app(newcomer_env, log)
    health = f"{url}/api/v1/health"
    try:
        web, worker = the_child(app.pid, "uvicorn"), the_child(app.pid, "--beat")
        # The background legs' worker runs beside it at a lower priority, and fills the demo's.
        filler = the_child(app.pid, "--queues=backfill")
        assert os.getpriority(os.PRIO_PROCESS, filler) == BACKFILL_NICE
        wait_until(
            lambda: passages_waiting(newcomer_env) == 0,
            timeout=180,
            what="the demo's English leg to be filled",
        )
        worker_group = wait_until(
            lambda: len(group(worker)) >= 3 and group(worker),
            timeout=30,
            what="the worker's beat and pool",
        )

        os.kill(web, signal.SIGKILL)
        os.kill(worker, signal.SIGKILL)

        wait_until(
            lambda: the_child(app.pid, "uvicorn") != web, timeout=30, what="a new web server"
        )
        wait_until(lambda: httpx.get(health).status_code == 200, timeout=60, what="the app again")
        new_worker = wait_until(
            lambda: the_child(app.pid, "--beat") != worker and the_child(app.pid, "--beat"),
            timeout=30,
            what="a new worker",
        )
        wait_until(lambda: not group(worker), timeout=10, what="the old worker's processes to go")
        served_again = httpx.get(health).status_code
    except BaseException:
        print(f"manage.py run said:\n{log.read_text()[-5000:]}")  # shown with the failure
        raise
    finally:
        ctrl_c(app)
    # Killed processes are gone once their new parent (init) has reaped them.
    wait_until(lambda: not group(new_worker), timeout=10, what="the new worker's processes to go")

    output = log.read_text()
    assert served_again == 200
    assert "The web server stopped unexpectedly (killed by SIGKILL); restarting it" in output
    assert "The Celery worker stopped unexpectedly (killed by SIGKILL); restarting it" in output
    assert worker_group and not group(worker), "the killed worker's beat and pool went with it"
    assert children(app.pid) == {}
    var = newcomer_env["VAR_DIR"]
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _mentions(p, var)]


def _mentions(proc: Path, text: str) -> bool:
    try:
        return text in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_ctrl_c_with_an_answer_and_a_document_in_flight_leaves_nothing_stuck(
    newcomer_env, standin, tmp_path
):
    standin.script(Reply(chunks=[f"word{i} " for i in range(400)], chunk_delay_s=0.1))
    env = (
        newcomer_env
        | qwen_env(standin)
        | {
            "INGEST_LEASE_S": "10",
            "INGEST_SWEEP_S": "2",
            "ANSWER_SWEEP_S": "2",
            "ANSWER_STALE_S": "5",
        }
    )
    log = tmp_path / "run.log"
    app, url = start_app(env, log)
    try:
        token = manage("create_api_token", "admin", env=env).stdout.strip()
        client = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        [guide] = client.get("/collections").json()
        long_text = "\n\n".join(
            f"Paragraph {i}: the checkpointer writes dirty buffers to disk (case {i})."
            for i in range(3000)
        )
        [uploaded] = client.post(
            f"/collections/{guide['id']}/documents", files={"files": ("wal.txt", long_text)}
        ).json()
        document_id = uploaded["document"]["id"]
        wait_until(
            lambda: client.get(f"/documents/{document_id}").json()["status"] == "processing",
            timeout=60,
            what="the document to be ingesting",
        )
        answer: dict = {}
        reader = threading.Thread(target=_read_answer, args=(client, answer), daemon=True)
        reader.start()
        wait_until(lambda: answer.get("deltas", 0) >= 3, timeout=60, what="the answer to stream")
    finally:
        ctrl_c(app)
    reader.join(timeout=30)

    app, url = start_app(env, log)
    try:
        client = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        message = wait_until(
            lambda: (
                (m := client.get(f"/messages/{answer['message_id']}").json())["status"]
                not in {"created", "retrieving", "generating"}
                and m
            ),
            timeout=60,
            what="the answer to be closed",
        )
        ready = wait_until(
            lambda: client.get(f"/documents/{document_id}").json()["status"] == "ready",
            timeout=120,
            what="the document to be picked up again and finish",
        )
    finally:
        ctrl_c(app)

    assert message["status"] in {"cancelled", "interrupted"}, message
    assert message["answer"].startswith("word0 word1 word2"), "what was streamed is kept"
    assert ready


def _read_answer(client: httpx.Client, answer: dict) -> None:
    body = {"question": "How many questions may I ask per day?", "stream": True}
    with contextlib.suppress(httpx.HTTPError), client.stream("POST", "/ask", json=body) as response:
        for event in read_events(response):
            if event.name == "status":
                answer["message_id"] = json.loads(event.data)["message_id"]
            elif event.name == "delta":
                answer["deltas"] = answer.get("deltas", 0) + 1


@pytest.mark.django_db(transaction=True)
def test_with_a_local_gguf_the_app_answers_through_the_local_server(standin, django_user_model):
    """`make run LOCAL_GGUF=…`: the web server gets the environment the supervisor gives it when
    llama.cpp's server listens on a port; here the stand-in listens there in its place."""
    ingest_text(Collection.objects.create(name="Guide", is_public=True), "guide.md", GUIDE)
    django_user_model.objects.create_user("ann", password="pw-ann-123456")
    token = StringIO()
    call_command("create_api_token", "ann", stdout=token)
    env = os.environ | {"DATABASE_URL": worker_database_url()} | local_model_env(standin.port)
    server, url = app_server.start(env)
    try:
        health = httpx.get(f"{url}/api/v1/health", timeout=10).json()
        answer = httpx.post(
            f"{url}/api/v1/ask",
            json={"question": "How many questions may I ask each day?"},
            headers={"Authorization": f"Bearer {token.getvalue().strip()}"},
            timeout=60,
        )
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert health["provider"] == "openai-compatible"
    assert answer.status_code == 200, answer.text
    (asked,) = standin.chat_requests()
    assert asked["model"] == MODEL_ALIAS, "the name llama.cpp's server serves the file under"
    body = answer.json()
    assert (body["answer"], body["provider"]) == (DEFAULT_TEXT, "openai-compatible")
