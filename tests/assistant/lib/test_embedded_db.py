from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from assistant.lib.embedded_db import EmbeddedPostgres
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
