from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.support import app_server
from tests.support.qwen_standin import StandIn

ROOT = Path(__file__).resolve().parent.parent


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


def start_worker(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A real Celery worker process on the filesystem transport, reading the test database."""
    env = os.environ | {"DATABASE_URL": worker_database_url()} | (extra_env or {})
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "assistant",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[subprocess.Popen]:
    worker = start_worker()
    yield worker
    worker.terminate()
    worker.wait(timeout=30)


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
        # Qwen3 thinking on: the stand-in then streams reasoning_content before the answer.
        "QWEN_ENABLE_THINKING": "true",
    }
    try:
        server, url = app_server.start(env)
    except app_server.ServerDidNotStart as error:
        pytest.fail(str(error))
    yield url
    server.terminate()
    server.wait(timeout=20)
