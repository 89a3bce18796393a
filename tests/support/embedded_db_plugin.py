"""Starts one embedded PostgreSQL (with pgvector) per test session, before Django reads settings.

Loaded with `-p` (see pyproject.toml) so it runs ahead of pytest-django. With DATABASE_URL already
set, the tests use that server instead. Under pytest-xdist the workers inherit the controller's
DATABASE_URL (pytest-django gives each its own test database) but get a var/ of their own, so
their Celery queues never meet.

Screenshots and other files a test keeps for a person to look at go under TEST_ARTIFACTS_DIR
(default: the controller's temporary var/, never the checkout); the summary says where they were
kept once the temporary folder is gone.
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
    # `manage.py prepare` (run by `manage.py run`) collects the static files there, not into
    # the checkout.
    os.environ["STATIC_ROOT"] = str(root / "static")
    # Set by the controller, so xdist's workers (which inherit it) write into one folder.
    os.environ.setdefault("TEST_ARTIFACTS_DIR", str(root / "var" / "test-artifacts"))
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


def pytest_terminal_summary(terminalreporter) -> None:
    artifacts = Path(os.environ["TEST_ARTIFACTS_DIR"])
    root = _session.get("root")
    if hasattr(terminalreporter.config, "workerinput") or not artifacts.is_dir():
        return
    if isinstance(root, Path) and artifacts.is_relative_to(root):  # removed with the root
        kept = Path(tempfile.mkdtemp(prefix="assistant-test-artifacts-"))
        artifacts = Path(shutil.move(artifacts, kept / artifacts.name))
    terminalreporter.write_line(f"Test artifacts (screenshots): {artifacts}")


def pytest_unconfigure(config) -> None:
    server = _session.pop("server", None)
    if isinstance(server, EmbeddedPostgres):
        server.stop()
    root = _session.pop("root", None)
    if isinstance(root, Path):
        shutil.rmtree(root, ignore_errors=True)
