"""Nearest chunks by meaning: cosine distance on the HNSW index, inside the allowed collections."""

from __future__ import annotations

# HNSW's candidate list grows with the corpus: a longer list finds more of the true nearest
# chunks for a few milliseconds more (bench/search_scale.py measures recall against exact search;
# the README has the figures). Under 50k chunks a larger value makes the planner prefer an exact
# scan, which is slower there.
EF_SEARCH_STEPS = ((50_000, 200), (500_000, 400))
EF_SEARCH_MAX = 800

# Nearest chunks on the HNSW index; relaxed_order returns near-sorted rows, so the outer query
# restores the order.
DENSE_SQL = """
SELECT id, distance, document_id, page_start FROM (
    SELECT c.id, c.{column} <=> %s::vector AS distance, c.document_id, c.page_start
    FROM ingest_chunk c
    WHERE c.collection_id IN ({allowed}) AND c.{column} IS NOT NULL
    ORDER BY c.{column} <=> %s::vector
    LIMIT %s
) nearest ORDER BY distance
"""
# The deployment's embedder, and the English leg (see ingest.embedders).
COLUMNS = ("embedding", "embedding_en")


def ef_search(chunks: int) -> int:
    """HNSW's candidate list for a corpus of `chunks` chunks (see EF_SEARCH_STEPS)."""
    return next((ef for below, ef in EF_SEARCH_STEPS if chunks < below), EF_SEARCH_MAX)


def nearest(
    cursor, vector: str, *, allowed: tuple[str, tuple], limit: int, column: str = "embedding"
) -> list[tuple]:
    """(chunk id, distance, document id, first page) of the `limit` nearest chunks, nearest
    first. Must run inside a transaction: the HNSW settings are SET LOCAL."""
    allowed_sql, allowed_params = allowed
    cursor.execute("SELECT chunks FROM ingest_lexicaltotals LIMIT 1")
    chunks = (cursor.fetchone() or (0,))[0]
    cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(limit, ef_search(chunks))])
    # Permission filters must not starve the top-k: keep scanning the graph until k rows pass.
    cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    if column not in COLUMNS:
        raise ValueError(f"no vector column {column!r}")
    sql = DENSE_SQL.format(allowed=allowed_sql, column=column)
    cursor.execute(sql, [vector, *allowed_params, vector, limit])
    return cursor.fetchall()
