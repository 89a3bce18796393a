"""Hybrid retrieval: dense (pgvector HNSW, cosine) + lexical (PostgreSQL full text), fused by
reciprocal rank, diversified across documents, neighbours merged, under a token budget.

Access control is part of both SQL queries: the scan is restricted to the collections the user
may read (a subquery built from `Collection.objects.readable_by`), never filtered afterwards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from assistant.lib.text import cjk_bigrams, identifiers, topic_words
from ingest import embedding_space
from ingest.embedders import get_embedder
from ingest.embedding_space import vector_literal
from ingest.models import Collection, format_pages

log = logging.getLogger(__name__)

# A small k favours items at the very top of either list (tuned on bench/questions).
RRF_K = 10
CANDIDATES = 60
# HNSW's candidate list grows with the corpus. Recall@10 against exact search, synthetic chunks
# (bench/search_scale.py, 2026-11-30, as in the README): 0.999 at 10k chunks with 200; 0.971 at
# 100k with 400 (0.918 with 200) for about 3 ms more; 0.794 at 1M with 800 (0.669 with 400).
# Under 50k chunks a larger value makes the planner prefer an exact scan, which costs 26 ms there.
EF_SEARCH_STEPS = ((50_000, 200), (500_000, 400))
EF_SEARCH_MAX = 800
PER_DOCUMENT = 2
# Share of the question's IDF weight found in its top passages, below which the documents
# probably do not cover it (calibrated on bench/questions: an unanswerable question names
# things the corpus lacks or mentions only in passing).
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


@dataclass
class Retrieval:
    query: str
    hits: list[Hit]
    best_similarity: float
    lexical_matches: int
    timings: dict[str, float]
    coverage: float = 0.0

    @property
    def low_confidence(self) -> bool:
        """True when the documents probably do not cover the question."""
        if not self.hits:
            return True
        if self.best_similarity < MIN_SIMILARITY:
            return True
        return self.coverage < MIN_COVERAGE and self.best_similarity < TRUSTED_SIMILARITY

    def documents(self) -> list[int]:
        """Distinct documents in rank order."""
        return list(dict.fromkeys(hit.document_id for hit in self.hits))


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


def ef_search(chunks: int) -> int:
    """HNSW's candidate list for a corpus of `chunks` chunks (see EF_SEARCH_STEPS)."""
    return next((ef for below, ef in EF_SEARCH_STEPS if chunks < below), EF_SEARCH_MAX)


def lexical_terms(text: str) -> list[str]:
    """The query's `simple` terms: CJK bigrams and glued identifiers, as indexed."""
    return list(dict.fromkeys([*cjk_bigrams(text), *identifiers(text)]))


# BM25 over the tsvector column. The query's lexemes (English stems of its topic words, plus the
# CJK bigrams and identifiers indexed in `simple`) are weighted by IDF from ingest_lexeme; lexemes
# too common to tell passages apart are dropped. Scoring reads each candidate's tsvector (about
# 17 us a candidate), so the candidates are bounded: the GIN index finds the chunks holding the
# rarest lexemes, adding lexemes from the rarest up while their document frequencies sum to at
# most CANDIDATE_BUDGET. A chunk holding only the commoner lexemes could not outscore those
# anyway; the rest still score. When even the rarest lexeme is too common (a large corpus), the
# candidates are the chunks holding two of the three rarest, which are the ones that can rank.
# Whatever the query, at most CANDIDATE_CAP times the budget are read (the first found, in table
# order): a safety valve for very common words in a large corpus, where dense search leads.
K1 = 1.2
B = 0.75
MIN_IDF = 0.5
CANDIDATE_BUDGET = 500
CANDIDATE_CAP = 2
# Nearest chunks on the HNSW index; relaxed_order returns near-sorted rows, so the outer query
# restores the order.
DENSE_SQL = """
SELECT id, distance, document_id FROM (
    SELECT c.id, c.embedding <=> %s::vector AS distance, c.document_id
    FROM ingest_chunk c
    WHERE c.collection_id IN ({allowed}) AND c.embedding IS NOT NULL
    ORDER BY c.embedding <=> %s::vector
    LIMIT %s
) nearest ORDER BY distance
"""

BM25_SQL = """
WITH q AS (
    SELECT unnest(tsvector_to_array(to_tsvector('english', %s))) AS lexeme
    UNION SELECT unnest(%s::text[])
), totals AS (
    SELECT greatest(chunks, 1) AS n, greatest(length, 1)::float8 / greatest(chunks, 1) AS avglen
    FROM ingest_lexicaltotals LIMIT 1
), useful AS (
    SELECT l.lexeme, l.df, ln(1 + (totals.n - l.df + 0.5) / (l.df + 0.5)) AS idf,
           sum(l.df) OVER (ORDER BY l.df, l.lexeme) AS upto,
           row_number() OVER (ORDER BY l.df, l.lexeme) AS nth
    FROM ingest_lexeme l JOIN q USING (lexeme), totals
    WHERE l.df > 0 AND ln(1 + (totals.n - l.df + 0.5) / (l.df + 0.5)) > %s
), budget AS (SELECT %s::bigint AS chunks
), tsq AS (
    SELECT CASE
        WHEN (SELECT df FROM useful WHERE nth = 1) <= budget.chunks
          OR (SELECT count(*) FROM useful) = 1
        THEN (SELECT string_agg(quote_literal(lexeme), ' | ') FROM useful
              WHERE upto <= budget.chunks OR nth = 1)
        ELSE (SELECT string_agg(format('(%%s & %%s)', quote_literal(x.lexeme),
                                       quote_literal(y.lexeme)), ' | ')
              FROM useful x JOIN useful y ON x.nth < y.nth WHERE y.nth <= 3)
    END::tsquery AS query
    FROM budget
), candidates AS (
    SELECT c.id, c.document_id, c.search_vector, length(c.search_vector) AS len
    FROM ingest_chunk c, tsq
    WHERE c.collection_id IN ({allowed}) AND c.search_vector @@ tsq.query
    LIMIT %s
)
SELECT candidates.id,
       sum(useful.idf * array_length(u.positions, 1) * (%s + 1)
           / (array_length(u.positions, 1) + %s * (1 - %s + %s * candidates.len / totals.avglen)))
           AS score,
       candidates.document_id
FROM candidates
-- Only the query's lexemes are unnested: mark them A, keep the As (positions are kept).
CROSS JOIN LATERAL unnest(ts_filter(setweight(
    setweight(candidates.search_vector, 'D'), 'A', (SELECT array_agg(lexeme) FROM useful)
), '{{a}}')) u
JOIN useful ON useful.lexeme = u.lexeme
CROSS JOIN totals
GROUP BY candidates.id, candidates.document_id
ORDER BY score DESC
LIMIT %s
"""


def bm25_query(
    query: str, *, allowed: tuple[str, tuple], limit: int, budget: int = CANDIDATE_BUDGET
) -> tuple[str, list]:
    """The BM25 statement and its parameters, for the collections `allowed` selects; `budget`
    bounds the candidates scored (see CANDIDATE_BUDGET)."""
    allowed_sql, allowed_params = allowed
    return BM25_SQL.format(allowed=allowed_sql), [
        topic_words(query),
        lexical_terms(query),
        MIN_IDF,
        budget,
        *allowed_params,
        CANDIDATE_CAP * budget,
        K1,
        K1,
        B,
        B,
        limit,
    ]


def search(
    query: str,
    *,
    user,
    collection_ids: list[int] | None = None,
    k: int = 8,
    candidates: int = CANDIDATES,
    per_document: int = PER_DOCUMENT,
) -> Retrieval:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    allowed_sql, allowed_params = readable_collections_sql(user, collection_ids)
    embedder = get_embedder()
    dense_ok = embedding_space.matches(embedder)
    vector = vector_literal(embedder.embed([query])[0]) if dense_ok else None
    timings["embed_ms"] = (time.perf_counter() - started) * 1000
    clock = time.perf_counter()
    # SET LOCAL only lasts inside a transaction: without one the HNSW settings never apply.
    with transaction.atomic(), connection.cursor() as cursor:
        dense: list[tuple[int, float]] = []
        if vector is not None:
            cursor.execute("SELECT chunks FROM ingest_lexicaltotals LIMIT 1")
            chunks = (cursor.fetchone() or (0,))[0]
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(candidates, ef_search(chunks))])
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute(
                DENSE_SQL.format(allowed=allowed_sql),
                [vector, *allowed_params, vector, candidates],
            )
            dense = cursor.fetchall()
        timings["dense_ms"] = (time.perf_counter() - clock) * 1000
        clock = time.perf_counter()
        cursor.execute(*bm25_query(query, allowed=(allowed_sql, allowed_params), limit=candidates))
        lexical = cursor.fetchall()
        timings["lexical_ms"] = (time.perf_counter() - clock) * 1000
    clock = time.perf_counter()
    dense_rank = {chunk_id: r for r, (chunk_id, *_) in enumerate(dense, start=1)}
    lexical_rank = {chunk_id: r for r, (chunk_id, *_) in enumerate(lexical, start=1)}
    fused = {
        chunk_id: sum(1.0 / (RRF_K + r) for r in ranks if r)
        for chunk_id in dense_rank | lexical_rank
        for ranks in [(dense_rank.get(chunk_id), lexical_rank.get(chunk_id))]
    }
    document_of = {chunk_id: document_id for chunk_id, _, document_id in [*dense, *lexical]}
    ranked = [Ranked(chunk_id, document_of[chunk_id], score) for chunk_id, score in fused.items()]
    # Only the chosen few are read in full: ranking needs no passage text.
    chosen = _load(
        [r.chunk_id for r in diversify(by_document(ranked), k=k, per_document=per_document)]
    )
    similarity = {chunk_id: 1.0 - distance for chunk_id, distance, _ in dense}
    for hit in chosen:
        hit.score = fused[hit.chunk_id]
        hit.dense_rank = dense_rank.get(hit.chunk_id)
        hit.lexical_rank = lexical_rank.get(hit.chunk_id)
        hit.similarity = similarity.get(hit.chunk_id)
    timings["fuse_ms"] = (time.perf_counter() - clock) * 1000
    covered = coverage(query, [hit.chunk_id for hit in chosen[:3]])
    timings["total_ms"] = (time.perf_counter() - started) * 1000
    return Retrieval(
        query=query,
        hits=chosen,
        best_similarity=max(similarity.values(), default=0.0),
        lexical_matches=len(lexical),
        timings=timings,
        coverage=covered,
    )


# CJK bigrams the corpus never holds are mostly pairs straddling two words: they say nothing
# about coverage and would sink every Chinese question, so only known bigrams count. An absent
# English word or identifier does count: it names something the documents lack.
COVERAGE_SQL = """
WITH q AS (
    SELECT unnest(tsvector_to_array(to_tsvector('english', %s))) AS lexeme
    UNION SELECT unnest(%s::text[])
    UNION SELECT lexeme FROM ingest_lexeme WHERE lexeme = ANY(%s) AND df > 0
), totals AS (SELECT greatest(chunks, 1) AS n FROM ingest_lexicaltotals LIMIT 1)
SELECT coalesce(sum(w.idf) FILTER (WHERE w.found) / nullif(sum(w.idf), 0), 0)
FROM (
    SELECT ln(1 + (totals.n - coalesce(l.df, 0) + 0.5) / (coalesce(l.df, 0) + 0.5)) AS idf,
           EXISTS (SELECT 1 FROM ingest_chunk c WHERE c.id = ANY(%s)
                   AND c.search_vector @@ quote_literal(q.lexeme)::tsquery) AS found
    FROM q CROSS JOIN totals LEFT JOIN ingest_lexeme l USING (lexeme)
) w
"""


def coverage(query: str, chunk_ids: list[int]) -> float:
    """The share of the question's IDF weight that its top passages contain. A word the corpus
    never uses weighs most, so a question about something absent scores low."""
    if not chunk_ids:
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute(
            COVERAGE_SQL, [topic_words(query), identifiers(query), cjk_bigrams(query), chunk_ids]
        )
        return float(cursor.fetchone()[0] or 0.0)


def _load(chunk_ids: list[int]) -> list[Hit]:
    if not chunk_ids:
        return []
    with connection.cursor() as cursor:
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


@dataclass
class Ranked:
    chunk_id: int
    document_id: int
    score: float


def by_document(hits: list[Ranked]) -> list[Ranked]:
    """Rank documents by their best chunk plus half of their next two, then chunks within.

    A page with several matching passages is more likely the answer than one lucky chunk.
    """
    scores: dict[int, list[float]] = {}
    for hit in sorted(hits, key=lambda h: -h.score):
        scores.setdefault(hit.document_id, []).append(hit.score)
    total = {doc: s[0] + 0.5 * sum(s[1:3]) for doc, s in scores.items()}
    return sorted(hits, key=lambda h: (-total[h.document_id], -h.score))


def diversify(hits: list[Ranked], *, k: int, per_document: int) -> list[Ranked]:
    """Keep the best `per_document` chunks of each document so one cannot fill every slot."""
    seen: dict[int, int] = {}
    chosen = []
    for hit in hits:
        if seen.get(hit.document_id, 0) >= per_document:
            continue
        seen[hit.document_id] = seen.get(hit.document_id, 0) + 1
        chosen.append(hit)
        if len(chosen) == k:
            break
    return chosen


def context(hits: list[Hit], *, budget_tokens: int | None = None) -> list[Hit]:
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
