"""Starts one embedded PostgreSQL (with pgvector) per test session, before Django reads settings.

Loaded with `-p` (see pyproject.toml) so it runs ahead of pytest-django. With DATABASE_URL already
set, the tests use that server instead. Under pytest-xdist the workers inherit the controller's
DATABASE_URL (pytest-django gives each its own test database) but get a var/ of their own, so
their Celery queues never meet.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from assistant.lib import var
from assistant.lib.embedded_db import EmbeddedPostgres
from assistant.lib.ports import free_port

_session: dict[str, object] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    if "--help" in args or "--version" in args:
        return
    # Under /tmp so the server's system user can reach it wherever the checkout lives.
    root = Path(tempfile.mkdtemp(prefix="assistant-tests-"))
    root.chmod(0o755)
    _session["root"] = root
    os.environ["VAR_DIR"] = str(root / "var")
    var.prepare(root / "var")
    if os.environ.get("DATABASE_URL"):
        return
    server = EmbeddedPostgres(
        data_dir=root / "postgres" / "data",
        port=free_port(),
        # Durability buys nothing in a throwaway test cluster.
        settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
    )
    server.ensure_running()
    _session["server"] = server
    os.environ["DATABASE_URL"] = server.url


def pytest_unconfigure(config) -> None:
    server = _session.pop("server", None)
    if isinstance(server, EmbeddedPostgres):
        server.stop()
    root = _session.pop("root", None)
    if isinstance(root, Path):
        shutil.rmtree(root, ignore_errors=True)
