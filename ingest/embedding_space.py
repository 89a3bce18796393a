"""One vector space per deployment: the chunks' vectors all come from the configured embedder.

The space in use is recorded in EmbeddingSpace. Ingestion refuses to add vectors from another
embedder, and `manage.py reembed` moves every chunk to the configured one.
"""

from __future__ import annotations

from django.db import connection
from django.utils.translation import gettext

from ingest.embedders import Embedder
from ingest.models import EmbeddingSpace

INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS chunk_embedding_hnsw ON ingest_chunk "
    "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
)


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form, for raw SQL."""
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def recorded() -> EmbeddingSpace | None:
    return EmbeddingSpace.objects.order_by("pk").first()


def matches(embedder: Embedder) -> bool:
    space = recorded()
    return space is None or (space.model, space.dimensions) == (embedder.model, embedder.dimensions)


def mismatch_message(embedder: Embedder) -> str:
    space = recorded()
    return gettext(
        "The index holds vectors from %(space)s but the configured embedder is %(model)s "
        "(%(dimensions)d). Run `manage.py reembed` first."
    ) % {"space": space, "model": embedder.model, "dimensions": embedder.dimensions}


def record(embedder: Embedder) -> None:
    EmbeddingSpace.objects.update_or_create(
        pk=recorded().pk if recorded() else None,
        defaults={"model": embedder.model, "dimensions": embedder.dimensions},
    )


def column_dimensions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT atttypmod FROM pg_attribute "
            "WHERE attrelid = 'ingest_chunk'::regclass AND attname = 'embedding'"
        )
        return cursor.fetchone()[0]


def reset_column(dimensions: int) -> None:
    """Empty every vector and give the column the new width; the index is rebuilt after."""
    width = int(dimensions)
    with connection.cursor() as cursor:
        # Deferred foreign-key checks queued earlier in the transaction would block the ALTER.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DROP INDEX IF EXISTS chunk_embedding_hnsw")
        cursor.execute(
            f"ALTER TABLE ingest_chunk ALTER COLUMN embedding TYPE vector({width}) "
            f"USING NULL::vector({width})"
        )


def rebuild_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute(INDEX_SQL)
