"""`manage.py run` (what `make run` calls) as an operator meets its faults: a web server or a
Celery worker killed outright is started again, and nothing it or the app started outlives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.lib.ports import free_port
from tests.conftest import ROOT

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


def test_killed_web_server_and_worker_come_back_and_nothing_outlives_the_app(
    newcomer_env, tmp_path
):
    port = free_port()
    log = tmp_path / "run.log"
    app = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port)],
        cwd=ROOT,
        env=newcomer_env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    health = f"http://127.0.0.1:{port}/api/v1/health"
    try:
        wait_until(lambda: httpx.get(health).status_code == 200, timeout=240, what="the app")
        web, worker = the_child(app.pid, "uvicorn"), the_child(app.pid, "celery")
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
            lambda: the_child(app.pid, "celery") != worker and the_child(app.pid, "celery"),
            timeout=30,
            what="a new worker",
        )
        wait_until(lambda: not group(worker), timeout=10, what="the old worker's processes to go")
        served_again = httpx.get(health).status_code
    finally:
        app.send_signal(signal.SIGINT)
        app.wait(timeout=90)
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
