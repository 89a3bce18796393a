from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from assistant.lib.embedded_db import EmbeddedPostgres
from assistant.lib.ports import free_port
from tests.conftest import manage


@pytest.mark.django_db
def test_it_builds_an_hnsw_index_and_finds_the_nearest_row_by_cosine():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE items (id int PRIMARY KEY, embedding vector(3))")
        cursor.execute(
            "INSERT INTO items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]'), "
            "(4, '[0,0,1]')"
        )
        cursor.execute("CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN SELECT id FROM items ORDER BY embedding <=> '[0.2,1,0]' LIMIT 1")
        plan = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT id FROM items ORDER BY embedding <=> '[0.2,1,0]' LIMIT 2")
        nearest = [row[0] for row in cursor.fetchall()]
    assert "items_embedding_idx" in plan
    assert nearest == [2, 3]


def test_it_has_the_extensions_retrieval_needs(django_db_blocker):
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_available_extensions")
        available = {row[0] for row in cursor.fetchall()}
    assert {"vector", "pg_trgm", "unaccent"} <= available


def test_manage_py_starts_the_embedded_database_and_leaves_it_as_it_found_it(newcomer_env):
    var = Path(newcomer_env["VAR_DIR"])
    server = EmbeddedPostgres(
        data_dir=var / "postgres" / "data", port=int(newcomer_env["EMBEDDED_PG_PORT"])
    )

    result = manage("showmigrations", "ingest", env=newcomer_env)

    assert result.returncode == 0, result.stderr
    assert "[ ] 0001_vector_extension" in result.stdout
    assert (var / "postgres" / "data" / "PG_VERSION").exists()
    assert not server.is_running()

    server.ensure_running()
    try:
        assert manage("migrate", "-v0", env=newcomer_env).returncode == 0
        assert server.is_running(), "a command must not stop a server it did not start"
    finally:
        server.stop()


@pytest.fixture
def checkouts() -> Iterator[tuple[Path, Path]]:
    """The var/ folders of two checkouts on one machine."""
    root = Path(tempfile.mkdtemp(prefix="assistant-two-"))
    root.chmod(0o755)
    yield root / "first" / "var", root / "second" / "var"
    for var in (root / "first" / "var", root / "second" / "var"):
        EmbeddedPostgres(data_dir=var / "postgres" / "data", port=0).stop()
    shutil.rmtree(root, ignore_errors=True)


def test_two_checkouts_run_side_by_side_each_on_its_own_database(checkouts, newcomer_env):
    first, second = checkouts
    wanted = free_port()
    servers = [
        EmbeddedPostgres(data_dir=var / "postgres" / "data", port=wanted, movable=True)
        for var in checkouts
    ]
    for server in servers:
        server.ensure_running()
    env = {k: v for k, v in newcomer_env.items() if k != "EMBEDDED_PG_PORT"}

    migrated = manage("migrate", "ingest", "-v0", env=env | {"VAR_DIR": str(second)})
    shown = manage("showmigrations", "ingest", env=env | {"VAR_DIR": str(first)})

    assert servers[0].port == wanted
    assert servers[1].port != wanted, "the second moved off the port the first holds"
    assert (second / "postgres" / "port").read_text().strip() == str(servers[1].port)
    assert migrated.returncode == 0, migrated.stderr
    assert "[ ] 0001_vector_extension" in shown.stdout, "the first's database is untouched"
    assert all(server.is_running() for server in servers)


def test_a_pinned_port_that_is_taken_says_what_to_do(checkouts):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        server = EmbeddedPostgres(data_dir=checkouts[0] / "postgres" / "data", port=taken)

        with pytest.raises(RuntimeError, match=f"Port {taken} .*EMBEDDED_PG_PORT to a free port"):
            server.ensure_running()

    assert not server.is_running()
