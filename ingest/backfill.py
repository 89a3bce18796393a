"""Background legs: the vectors a document does not wait for.

A document is READY as soon as its keyword data and main vectors are written (ingest.pipeline).
Its passages then wait for the English leg's vectors (ingest.embedders, `EMBEDDING_EN`), marked
`embedding_en_pending`; retrieval meanwhile finds them by keywords and the main vectors only.
Workers on the `backfill` queue fill them `BACKFILL_BATCH` passages per transaction: each batch
locks its rows with SKIP LOCKED (so several fillers share the work and a re-ingest or a delete
never waits on more than one batch), and commits vectors and flags together, so a filler that
dies loses one batch, which the next one takes again; filling twice writes the same vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from assistant.lib import metrics, tracing
from assistant.lib.text import mostly_cjk
from ingest.chunking import Draft, embedding_text
from ingest.embedders import get_english_embedder
from ingest.embedding_space import vector_literal
from ingest.models import Chunk

FILL_SQL = """
UPDATE ingest_chunk c SET embedding_en = v.embedding::vector, embedding_en_pending = false
FROM unnest(%s::bigint[], %s::text[]) AS v(id, embedding)
WHERE c.id = v.id
"""


def wants_english(text: str) -> bool:
    """Whether a passage (as the embedder reads it) gets an English vector: the leg is on and
    the passage is not mostly CJK, which MiniLM cannot read."""
    return settings.EMBEDDING_EN != "none" and not mostly_cjk(text)


def waiting(chunks: QuerySet[Chunk] | None = None) -> int:
    """Passages (of `chunks`, else all) still waiting for the English leg; none while it is off."""
    if get_english_embedder() is None:
        return 0
    chunks = Chunk.objects.all() if chunks is None else chunks
    return chunks.filter(embedding_en_pending=True).count()


def waiting_per(field: str) -> Coalesce:
    """An annotation: the passages of each document or collection (`field` of a chunk names it)
    still waiting for the English leg, for pages that list many."""
    rows = (
        Chunk.objects.filter(embedding_en_pending=True, **{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows), 0)


def fill_batch(*, limit: int) -> int:
    """Give up to `limit` waiting passages their English vectors in one transaction; how many."""
    embedder = get_english_embedder()
    if embedder is None:
        return 0
    with transaction.atomic():
        rows = list(
            Chunk.objects.filter(embedding_en_pending=True)
            .order_by("document_id", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", "text", "heading_path", "document__title")[:limit]
        )
        if not rows:
            return 0
        started = time.perf_counter()
        with tracing.span("ingest.embed_en", **{"assistant.passages": len(rows)}):
            texts = [
                embedding_text(title, Draft(text, heading, None, None, 0))
                for _, text, heading, title in rows
            ]
            vectors = embedder.embed(texts)
        metrics.ingest_stages({"embed_en_s": time.perf_counter() - started})
        with connection.cursor() as cursor:
            cursor.execute(
                FILL_SQL, [[row[0] for row in rows], [vector_literal(v) for v in vectors]]
            )
    return len(rows)


def fill(*, until: float = float("inf"), progress: Callable[[int], None] = lambda n: None) -> int:
    """Fill batches until no passage waits (or the monotonic clock passes `until`); how many
    passages this filled. `progress` hears the running total after each batch."""
    done = 0
    while time.monotonic() < until:
        filled = fill_batch(limit=settings.BACKFILL_BATCH)
        if not filled:
            break
        done += filled
        progress(done)
    return done
