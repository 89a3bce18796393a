from __future__ import annotations

import pytest
from django.db import connection, transaction

from ingest import backfill
from ingest.embedders import get_embedder, get_english_embedder
from ingest.embedding_space import vector_literal
from ingest.models import Collection, Document
from ingest.search.dense import COLUMNS, HALFVEC, dense_sql, nearest
from ingest.search.retrieval import readable_collections_sql
from tests.support.documents import ingest_text

PASSAGES = {
    "vacuum.md": "# Vacuum\n\nVACUUM reclaims the storage of dead rows so tables stop growing.",
    "backup.md": "# Backups\n\nUse pg_dump to write a logical backup of one database.",
    "wal.md": "# WAL\n\nThe write-ahead log records every change before the data files see it.",
}


@pytest.fixture
def manual(db, admin_user):
    collection = Collection.objects.create(name="Manual")
    for name, text in PASSAGES.items():
        ingest_text(collection, name, text)
    backfill.fill()  # the English leg, which a background worker fills after READY
    return readable_collections_sql(admin_user, [collection.pk])


def question(column: str) -> str:
    embedder = get_embedder() if column == "embedding" else get_english_embedder()
    return vector_literal(embedder.embed(["my tables keep growing after deletes"])[0])


@pytest.mark.parametrize("column", COLUMNS)
def test_the_query_of_each_leg_can_walk_its_hnsw_index(manual, column):
    # A query whose ORDER BY is not the index's expression would scan every chunk, silently.
    allowed_sql, allowed_params = manual
    vector = question(column)
    with transaction.atomic(), connection.cursor() as cursor:
        # Tiny tables: make every other way dearer than walking the graph.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(
            "EXPLAIN " + dense_sql(column, allowed=allowed_sql, halfvec=HALFVEC),
            [vector, *allowed_params, vector, 10, 2],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert f"Index Scan using chunk_{column}_hnsw" in plan


@pytest.mark.parametrize("column", COLUMNS)
def test_nearest_returns_the_limit_nearest_first(manual, column):
    with transaction.atomic(), connection.cursor() as cursor:
        found = nearest(cursor, question(column), allowed=manual, limit=2, column=column)

    distances = [row[1] for row in found]
    assert len(found) == 2
    assert distances == sorted(distances)
    assert Document.objects.get(pk=found[0][2]).source_path == "vacuum.md"
