"""A newcomer's first command may come before the first `make run`: no schema yet."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.conftest import ROOT, manage, worker_database_url

GUIDE = ROOT / "demo" / "en" / "quotas-and-usage.md"


def test_ingest_before_the_first_run_applies_the_migrations_then_ingests(newcomer_env):
    result = manage("ingest", str(GUIDE), "--collection", "Guide", "--wait", env=newcomer_env)

    assert result.returncode == 0, result.stderr
    assert "Applying database migrations…" in result.stdout
    assert "Ready: 1" in result.stdout
    assert "Traceback" not in result.stderr
    assert Path(newcomer_env["VAR_DIR"], "postgres", "data", "PG_VERSION").exists()


@pytest.fixture
def empty_database(django_db_blocker):
    """A database of one's own (DATABASE_URL) that nobody has migrated yet."""
    with django_db_blocker.unblock():
        server = worker_database_url().rsplit("/", 1)[0]
        name = f"{connection.settings_dict['NAME']}_empty"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_on_a_database_of_ones_own_it_says_in_one_line_what_to_run(newcomer_env, empty_database):
    result = manage(
        "ingest", str(GUIDE), "--wait", env=newcomer_env | {"DATABASE_URL": empty_database}
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "CommandError: The database schema is not up to date: run `manage.py migrate` first."
    )
