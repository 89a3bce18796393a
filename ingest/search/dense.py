"""Nearest chunks by meaning: cosine distance on the HNSW index, inside the allowed collections."""

from __future__ import annotations

from django.conf import settings

# HNSW's candidate list grows with the corpus: a longer list finds more of the true nearest
# chunks for a few milliseconds more (bench/search_scale.py measures recall against exact search;
# the README has the figures). Under 50k chunks a larger value makes the planner prefer an exact
# scan, which is slower there. At a million chunks 1,000 (pgvector's most) finds 0.880 of the
# true ten, 800 finds 0.869, for about the same time.
EF_SEARCH_STEPS = ((50_000, 200), (500_000, 400))
EF_SEARCH_MAX = 1000
# Whether the HNSW indexes hold half-precision copies of the vectors (ingest.models.Chunk).
HALFVEC = False

# Nearest chunks on the HNSW index, `pool` of them, then the best `limit` by exact distance:
# relaxed_order returns near-sorted rows, and an index over half-precision copies of the vectors
# orders by their distance, so the outer query orders by the full vectors'.
DENSE_SQL = """
SELECT id, distance, document_id, page_start FROM (
    SELECT c.id, c.{column} <=> %s::vector AS distance, c.document_id, c.page_start
    FROM ingest_chunk c
    WHERE c.collection_id IN ({allowed}) AND c.{column} IS NOT NULL
    ORDER BY {order}
    LIMIT %s
) nearest ORDER BY distance LIMIT %s
"""
# The deployment's embedder, and the English leg (see ingest.embedders).
COLUMNS = ("embedding", "embedding_en")
ENGLISH_DIMENSIONS = 384


def dimensions(column: str) -> int:
    if column not in COLUMNS:
        raise ValueError(f"no vector column {column!r}")
    return settings.EMBEDDING_DIMENSIONS if column == "embedding" else ENGLISH_DIMENSIONS


def order_by(column: str, *, halfvec: bool) -> str:
    """The distance the HNSW index on `column` orders by (its parameter is the question)."""
    width = dimensions(column)  # also refuses a column that is not a vector leg
    if not halfvec:
        return f"c.{column} <=> %s::vector"
    return f"c.{column}::halfvec({width}) <=> %s::halfvec({width})"


def dense_sql(column: str, *, allowed: str, halfvec: bool) -> str:
    """DENSE_SQL for `column`; its parameters: the question, the allowed collections' own, the
    question again, the pool, the limit."""
    return DENSE_SQL.format(allowed=allowed, column=column, order=order_by(column, halfvec=halfvec))


def ef_search(chunks: int) -> int:
    """HNSW's candidate list for a corpus of `chunks` chunks (see EF_SEARCH_STEPS)."""
    return next((ef for below, ef in EF_SEARCH_STEPS if chunks < below), EF_SEARCH_MAX)


def nearest(
    cursor, vector: str, *, allowed: tuple[str, tuple], limit: int, column: str = "embedding"
) -> list[tuple]:
    """(chunk id, distance, document id, first page) of the `limit` nearest chunks, nearest
    first. Must run inside a transaction: the HNSW settings are SET LOCAL."""
    allowed_sql, allowed_params = allowed
    sql = dense_sql(column, allowed=allowed_sql, halfvec=HALFVEC)
    cursor.execute("SELECT chunks FROM ingest_lexicaltotals LIMIT 1")
    chunks = (cursor.fetchone() or (0,))[0]
    cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(limit, ef_search(chunks))])
    # Permission filters must not starve the top-k: keep scanning the graph until k rows pass.
    cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    # Asking the index for more than `limit` (the iterative scan walks on) found no more of the
    # true nearest at a million chunks (bench/search_scale.py --pools): the pool is the limit.
    cursor.execute(sql, [vector, *allowed_params, vector, limit, limit])
    return cursor.fetchall()
