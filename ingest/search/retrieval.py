"""Hybrid retrieval: dense (`dense`: the deployment's embedder, and for a question without CJK
the English leg) + lexical (`lexical`), fused by reciprocal rank and diversified across places,
pages of a PDF or whole pages of a site (`fusion`); the chosen passages read in full, neighbours
merged, under a token budget.

Access control is part of every SQL query: the scan is restricted to the collections the user
may read (a subquery built from `Collection.objects.readable_by`), never filtered afterwards.

The reads may go to a streaming replica (assistant.lib.replicas): one is chosen per search, after
the question is embedded, and a read it fails is done again on the primary.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, transaction

from assistant.lib import replicas, tracing
from assistant.lib.text import CJK
from ingest import embedding_space
from ingest.embedders import get_embedder, get_english_embedder
from ingest.embedding_space import vector_literal
from ingest.models import Collection, format_pages, passage_url
from ingest.search.dense import nearest
from ingest.search.fusion import Ranked, by_place, diversify, ranks, reciprocal_rank
from ingest.search.lexical import absent_names, bm25_query, coverage
from ingest.search.rerankers import get_reranker

log = logging.getLogger(__name__)

CANDIDATES = 60
PER_PLACE = 2
# Share of the question's IDF weight found in its top passages (the first three hits and the
# first three by keywords), below which the documents probably do not cover it (calibrated on
# bench/questions: an unanswerable question names things the corpus lacks or mentions only in
# passing). Not used for questions in Chinese, whose character pairs straddle words and which may
# ask about English documents.
MIN_COVERAGE = 0.35
# A passage this close in meaning is trusted whatever the keywords say (short or CJK queries).
TRUSTED_SIMILARITY = 0.55
MIN_SIMILARITY = 0.20


@dataclass
class Hit:
    chunk_id: int
    document_id: int
    ordinal: int
    title: str
    source_path: str
    heading_path: str
    page_start: int | None
    page_end: int | None
    text: str
    token_count: int
    score: float = 0.0
    similarity: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None
    merged_chunk_ids: list[int] = field(default_factory=list)

    @property
    def pages(self) -> str:
        return format_pages(self.page_start, self.page_end)

    @property
    def url(self) -> str:
        return passage_url(self.document_id, self.chunk_id)


@dataclass
class Retrieval:
    query: str
    hits: list[Hit]
    best_similarity: float
    lexical_matches: int
    timings: dict[str, float]
    coverage: float = 0.0
    absent_names: list[str] = field(default_factory=list)
    rerank_tokens: int | None = None  # None: not reranked

    @property
    def nothing_matches(self) -> bool:
        """True when no passage shares a searchable word with the question or comes near it in
        meaning: the one case where no model is asked."""
        if not self.hits:
            return True
        return self.lexical_matches == 0 and self.best_similarity < MIN_SIMILARITY

    @property
    def low_confidence(self) -> bool:
        """True when the documents probably do not cover the question: offline, the passages
        are shown under a notice that they may not answer it."""
        if not self.hits:
            return True
        if self.best_similarity < MIN_SIMILARITY or self.absent_names:
            return True
        if CJK.search(self.query):
            return False
        return self.coverage < MIN_COVERAGE and self.best_similarity < TRUSTED_SIMILARITY


def readable_collections_sql(user, collection_ids: list[int] | None) -> tuple[str, tuple]:
    allowed = Collection.objects.readable_by(user)
    if collection_ids is not None:
        # An empty list reads nothing; `IN ()` would not compile, so ask for no key at all.
        allowed = (
            allowed.filter(pk__in=collection_ids)
            if collection_ids
            else allowed.filter(pk__isnull=True)
        )
    return allowed.order_by().values("pk").query.sql_with_params()


def search(
    query: str,
    *,
    user,
    collection_ids: list[int] | None = None,
    k: int = 8,
    candidates: int = CANDIDATES,
    per_place: int = PER_PLACE,
    rerank: bool = True,
) -> Retrieval:
    """The best `k` passages for `query` that `user` may read, at most `per_place` from a place.
    With a reranker configured (and `rerank`), the best fused candidates are reordered by it."""
    with tracing.span("retrieval", **{"assistant.k": k}):
        return _search(
            query,
            user=user,
            collection_ids=collection_ids,
            k=k,
            candidates=candidates,
            per_place=per_place,
            rerank=rerank,
        )


def _search(
    query: str,
    *,
    user,
    collection_ids: list[int] | None,
    k: int,
    candidates: int,
    per_place: int,
    rerank: bool,
) -> Retrieval:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    allowed_sql, allowed_params = readable_collections_sql(user, collection_ids)
    embedder = get_embedder()
    dense_ok = embedding_space.matches(embedder)
    # The English leg reads no Chinese: a question with CJK in it is not asked of it.
    english = None if CJK.search(query) else get_english_embedder()
    with tracing.span("retrieval.embed", **{"assistant.english_leg": english is not None}):
        vector = vector_literal(embedder.embed([query])[0]) if dense_ok else None
        vector_en = vector_literal(english.embed([query])[0]) if english else None
    timings["embed_ms"] = (time.perf_counter() - started) * 1000
    database = replicas.for_search()
    dense, dense_en, lexical = replicas.read(
        database,
        _candidates,
        query,
        vector,
        vector_en,
        allowed=(allowed_sql, allowed_params),
        limit=candidates,
        timings=timings,
    )
    clock = time.perf_counter()
    with tracing.span("retrieval.fusion") as span:
        dense_rank = ranks([chunk_id for chunk_id, *_ in dense])
        lexical_rank = ranks([chunk_id for chunk_id, *_ in lexical])
        fused = reciprocal_rank(dense_rank, lexical_rank, ranks([row[0] for row in dense_en]))
        place_of = {
            chunk_id: (document, page)
            for chunk_id, _, document, page in [*dense, *lexical, *dense_en]
        }
        ranked = by_place(
            [Ranked(chunk_id, place_of[chunk_id], score) for chunk_id, score in fused.items()]
        )
        span.set_attribute("assistant.candidates", len(ranked))
    reranker = get_reranker() if rerank else None
    rerank_tokens = None
    if reranker is not None and ranked:
        ranked, rerank_tokens = _reranked(reranker, query, ranked, timings, database=database)
    # Only the chosen few are read in full: ranking needs no passage text.
    chosen = replicas.read(
        database, _load, [r.chunk_id for r in diversify(ranked, k=k, per_place=per_place)]
    )
    similarity = {chunk_id: 1.0 - distance for chunk_id, distance, *_ in dense}
    for hit in chosen:
        hit.score = fused[hit.chunk_id]
        hit.dense_rank = dense_rank.get(hit.chunk_id)
        hit.lexical_rank = lexical_rank.get(hit.chunk_id)
        hit.similarity = similarity.get(hit.chunk_id)
    timings["fuse_ms"] = (time.perf_counter() - clock) * 1000
    # The best passages by rank and by keywords: the dense legs may lead with passages that
    # share the meaning but few of the words, and coverage is about the words.
    covered = replicas.read(
        database,
        coverage,
        query,
        list(dict.fromkeys([hit.chunk_id for hit in chosen[:3]] + [r[0] for r in lexical[:3]])),
    )
    absent = replicas.read(database, absent_names, query, allowed=(allowed_sql, allowed_params))
    timings["total_ms"] = (time.perf_counter() - started) * 1000
    return Retrieval(
        query=query,
        hits=chosen,
        best_similarity=max(similarity.values(), default=0.0),
        lexical_matches=len(lexical),
        timings=timings,
        coverage=covered,
        absent_names=absent,
        rerank_tokens=rerank_tokens,
    )


def _candidates(
    query: str,
    vector: str | None,
    vector_en: str | None,
    *,
    allowed: tuple[str, tuple],
    limit: int,
    timings: dict[str, float],
    using: str,
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The `limit` best chunks of each leg: dense, dense English and lexical."""
    clock = time.perf_counter()
    # SET LOCAL only lasts inside a transaction: without one the HNSW settings never apply.
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        with tracing.span("retrieval.dense") as span:
            dense = nearest(cursor, vector, allowed=allowed, limit=limit) if vector else []
            dense_en = (
                nearest(cursor, vector_en, allowed=allowed, limit=limit, column="embedding_en")
                if vector_en
                else []
            )
            span.set_attributes(
                {"assistant.found": len(dense), "assistant.found_en": len(dense_en)}
            )
        timings["dense_ms"] = (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        with tracing.span("retrieval.lexical") as span:
            cursor.execute(*bm25_query(query, allowed=allowed, limit=limit))
            lexical = cursor.fetchall()
            span.set_attribute("assistant.found", len(lexical))
        timings["lexical_ms"] = (time.perf_counter() - clock) * 1000
    return dense, dense_en, lexical


def _reranked(
    reranker, query: str, ranked: list[Ranked], timings: dict[str, float], *, database: str
) -> tuple[list[Ranked], int | None]:
    """The best fused candidates in the reranker's order, then the rest in fused order; the
    fused order alone (and no tokens) when the reranker failed."""
    pool = replicas.read(
        database, _load, [r.chunk_id for r in ranked[: settings.RERANK_CANDIDATES]]
    )
    with tracing.span("retrieval.rerank", **{"assistant.candidates": len(pool)}) as span:
        result = reranker.rerank(
            query, ["\n".join(p for p in (h.title, h.heading_path, h.text) if p) for h in pool]
        )
        span.set_attribute("assistant.outcome", "failed" if result is None else "ok")
    if result is None:
        return ranked, None
    timings["rerank_ms"] = result.ms
    position = {pool[index].chunk_id: n for n, index in enumerate(result.order)}
    return sorted(ranked, key=lambda r: position.get(r.chunk_id, len(position))), result.tokens


def _load(chunk_ids: list[int], *, using: str) -> list[Hit]:
    if not chunk_ids:
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.id, c.document_id, c.ordinal, d.title, d.source_path, c.heading_path,
                   c.page_start, c.page_end, c.text, c.token_count
            FROM ingest_chunk c JOIN ingest_document d ON d.id = c.document_id
            WHERE c.id = ANY(%s)
            """,
            [chunk_ids],
        )
        rows = {row[0]: Hit(*row) for row in cursor.fetchall()}
    return [rows[chunk_id] for chunk_id in chunk_ids if chunk_id in rows]


def prompt_passages(hits: list[Hit], *, budget_tokens: int | None = None) -> list[Hit]:
    """The passages for the prompt: neighbouring chunks of a document merged so a passage reads
    whole, then cut to the token budget (best first)."""
    budget = budget_tokens or settings.CONTEXT_BUDGET_TOKENS
    merged: list[Hit] = []
    for hit in hits:
        neighbour = next(
            (
                m
                for m in merged
                if m.document_id == hit.document_id
                and abs(m.ordinal - hit.ordinal) == 1
                and not m.merged_chunk_ids
            ),
            None,
        )
        if neighbour is None:
            merged.append(hit)
            continue
        first, second = sorted([neighbour, hit], key=lambda h: h.ordinal)
        pages = [p for h in (first, second) for p in (h.page_start, h.page_end) if p is not None]
        neighbour.text = f"{first.text}\n\n{second.text}"
        neighbour.token_count = first.token_count + second.token_count
        neighbour.merged_chunk_ids = [hit.chunk_id]
        neighbour.page_start = min(pages, default=None)
        neighbour.page_end = max(pages, default=None)
    chosen, used = [], 0
    for hit in merged:
        if chosen and used + hit.token_count > budget:
            continue
        chosen.append(hit)
        used += hit.token_count
    return chosen
