from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from assistant.lib import notify
from assistant.lib.embedded_db import EmbeddedPostgres
from assistant.lib.ports import free_port
from assistant.supervisor import worker_command
from tests.support import app_server
from tests.support.qwen_standin import StandIn

ROOT = Path(__file__).resolve().parent.parent
# The live server lets one user have this many answers open, more than any test asks at once:
# a refusal there is then the rule under test (a quota), never the open-answer limit.
LIVE_SERVER_MAX_OPEN_STREAMS = 20
_GIT_STATUS = pytest.StashKey[set[str]]()


# Caches that tools keep in the checkout whatever runs them.
_TOOL_CACHES = (".venv/", ".pytest_cache/", ".ruff_cache/")


def _checkout_files() -> set[str]:
    """Every path git sees that is not committed as it is, ignored ones included (a test that
    writes into test-artifacts/ or var/ of the checkout writes into the checkout all the same)."""
    result = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--ignored"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise pytest.UsageError(
            "The guard that keeps the tests from writing into the checkout needs `git status`, "
            f"which failed in {ROOT}: {result.stderr.strip() or result.returncode}"
        )
    paths = {line[3:] for line in result.stdout.splitlines()}
    return {
        path
        for path in paths
        if not path.startswith(_TOOL_CACHES)
        and "__pycache__/" not in path
        and not path.endswith(".pyc")
    }


def pytest_sessionstart(session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller guards for its workers
        session.config.stash[_GIT_STATUS] = _checkout_files()


def pytest_sessionfinish(session, exitstatus) -> None:
    """The suite writes only under its temporary VAR_DIR: nothing new may show in the checkout."""
    if hasattr(session.config, "workerinput"):
        return
    before = session.config.stash[_GIT_STATUS]
    if written := sorted(_checkout_files() - before):
        session.config.get_terminal_writer().line(
            "\nThe tests wrote into the checkout: " + ", ".join(written), red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def newcomer_env() -> Iterator[dict[str, str]]:
    """The environment of a fresh checkout: no DATABASE_URL, an empty var/ of its own and a free
    port, so manage.py starts an embedded PostgreSQL of its own there."""
    # Not tmp_path: that folder is private to us, and the server may run as another user.
    var = Path(tempfile.mkdtemp(prefix="assistant-cli-")) / "var"
    var.parent.chmod(0o755)
    # Nor the test process's metrics folder: the app makes its own under its var/.
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"}
    }
    yield env | {"VAR_DIR": str(var), "EMBEDDED_PG_PORT": str(free_port())}
    EmbeddedPostgres(data_dir=var / "postgres" / "data", port=0).stop()
    shutil.rmtree(var.parent, ignore_errors=True)


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="session", autouse=True)
def _listener_closed_before_the_database_is_dropped(django_db_setup) -> Iterator[None]:
    """This process's LISTEN connection (answers started in-process open it) holds the test
    database open; it must go before the database is dropped."""
    yield
    notify.close()


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandIn]:
    server = StandIn().start()
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server: StandIn) -> StandIn:
    """The scripted Qwen stand-in, emptied for each test."""
    standin_server.reset()
    return standin_server


def qwen_env(standin: StandIn) -> dict[str, str]:
    """The environment of an app process that answers with the real Qwen provider pointed at
    the stand-in, searching with the question as asked."""
    return {
        "ANSWER_PROVIDER": "qwen",
        "QWEN_API_KEY": "sk-test-not-a-real-key",
        "QWEN_BASE_URL": standin.base_url,
        "QUERY_REWRITE": "off",
        "AUTO_UPGRADE": "false",  # a scripted reply is the answer (test_upgrade.py: the upgrade)
    }


@pytest.fixture
def qwen_settings(settings, standin: StandIn):
    """Point the real Qwen provider at the stand-in."""
    settings.ANSWER_PROVIDER = "qwen"
    settings.QWEN_BASE_URL = standin.base_url
    settings.QWEN_API_KEY = "sk-test-not-a-real-key"
    settings.LLM_TIMEOUT_S = 2.0
    settings.LLM_BACKOFF_BASE_S = 0.01
    return settings


def worker_database_url() -> str:
    params = connection.settings_dict
    return f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}"


def start_worker(extra_env: dict[str, str] | None = None, *options: str) -> subprocess.Popen:
    """A real Celery worker process on the filesystem transport, reading the test database;
    `options` go to the worker after ours (`--beat`, …)."""
    env = os.environ | {"DATABASE_URL": worker_database_url()} | (extra_env or {})
    return subprocess.Popen(
        worker_command("--pool=solo", "--loglevel=WARNING", "--without-heartbeat", *options),
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


@contextlib.contextmanager
def running_worker(
    extra_env: dict[str, str] | None = None, *options: str
) -> Iterator[subprocess.Popen]:
    """A real worker for the length of the block, stopped (warm shutdown) at its end."""
    worker = start_worker(extra_env, *options)
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[subprocess.Popen]:
    with running_worker() as worker:
        yield worker


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker, standin_server) -> Iterator[str]:
    """The app under uvicorn (a real ASGI server) on the test database, answering with the
    real Qwen provider pointed at the stand-in."""
    with django_db_blocker.unblock():
        database_url = worker_database_url()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "ANSWER_PROVIDER": "qwen",
        "QWEN_API_KEY": "sk-test-not-a-real-key",
        "QWEN_BASE_URL": standin_server.base_url,
        "LLM_TIMEOUT_S": "1.5",
        "LLM_MAX_ATTEMPTS": "2",
        "LLM_BACKOFF_BASE_S": "0.01",
        # Room for a rewrite and two tries of 1.5 s, not for the fallback model's.
        "LLM_FIRST_TOKEN_BUDGET_S": "4",
        "MAX_OPEN_STREAMS_PER_USER": str(LIVE_SERVER_MAX_OPEN_STREAMS),
        # Qwen3 thinking on: the stand-in then streams reasoning_content before the answer.
        "QWEN_ENABLE_THINKING": "true",
        # A scripted reply is the answer here, cited or not; draft -> final is tested in
        # process (tests/assistant/chat/test_upgrade.py).
        "AUTO_UPGRADE": "false",
    }
    try:
        server, url = app_server.start(env)
    except app_server.ServerDidNotStart as error:
        pytest.fail(str(error))
    yield url
    server.terminate()
    server.wait(timeout=20)
