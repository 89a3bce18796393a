"""Synthetic chunks at scale for the benchmarks: real-looking text, realistic vectors, fast load.

    from common import ScratchDatabase
    from synthetic import load_synthetic_chunks

    with ScratchDatabase():
        collection = Collection.objects.create(name="scale")
        report = load_synthetic_chunks(100_000, collection)   # appends 100k ready chunks
        print(report.summary())

`load_synthetic_chunks(n, collection)` appends `n` chunks, grouped in READY documents, to the
collection and leaves the database as ingestion would: `ingest_lexeme` / `ingest_lexicaltotals`
exact, both chunk indexes present, the table vacuumed and analysed, the embedding space recorded.
Call it again to grow the same collection (the next documents continue where the last call
stopped; the data is deterministic for a given seed). Import this module only after Django is set
up (inside `ScratchDatabase`): it imports the models lazily, but needs them when called.

Where the data comes from
-------------------------
*Base set.* The PostgreSQL 15 manual (`bench/corpora/pg15`, from `bench/fetch_corpora.sh`) is
parsed and chunked by the product's own parser and chunker (~9.5k chunks). Whole pages are drawn
at random until they hold `base_chunks` chunks (3,000 by default); those chunks are embedded once
with the configured embedder (the local USE model: ~25 s for 3,000 on 2 cores). The base chunks
themselves are the first rows loaded (real text, real vectors).

*Text.* Every further chunk is a variant of one base chunk `a`: most of `a`'s sentences in order
(each kept with probability 0.8), some sentences of `b`, one of `a`'s 10 nearest base chunks (as
many as its mixing weight `w` says), and now and then a sentence from anywhere in the manual.
Documents are variants of whole manual pages (same chunks per page, same headings), so
per-document diversification sees real page sizes. BM25 statistics therefore look like the
manual's: real words, Zipf-like frequencies, real lengths. Two honest limits: the vocabulary does
not grow with `n` (no Heaps' law: ingest_lexeme stays at the manual's ~30k lexemes), and every
term's document frequency grows linearly with `n`, as if the corpus were many similar manuals.
That makes lexical candidate lists longer than in a corpus of unrelated documents of the same
size: a pessimistic case for the lexical query. `token_count` is estimated from the source
chunk's characters per token.

*Vectors.* Uniform noise would make HNSW recall meaningless (no neighbourhood structure), so
each vector is a normalised mixture of real embeddings: `v = a + w·b + s·e`, with `a`, `b` the
base vectors the text came from, `w ~ U(0, 0.5)`, `s ~ U(0.4, 0.8)` and `e` Gaussian noise with
the covariance of the real embeddings (their top 256 principal components, ~95% of the variance;
scaled to unit expected norm), so the noise stays in the directions real embeddings vary in and
the intrinsic dimension stays realistic. `s` was calibrated on the manual: for the 156 questions
in bench/questions, the similarity of the 1st/10th/60th nearest chunk among 3,000 synthetic
vectors (medians 0.425/0.358/0.291) matches 3,000 real chunks (0.450/0.370/0.300), as do the
nearest-neighbour similarity between chunks (median 0.77 vs 0.74) and the mean pairwise
similarity (0.22 vs 0.24).

The English leg (`embedding_en`, all-MiniLM-L6-v2, when `EMBEDDING_EN` is on) is made the
same way in its own space: the base chunks embedded by MiniLM, the same `a`, `b`, `w` and `s`
per chunk, noise drawn with MiniLM's own covariance. Its noise scale reuses the USE calibration;
it was not calibrated again for MiniLM.

How it is loaded
----------------
One psycopg 3 connection of its own: the chunk indexes (HNSW and GIN; their definitions are read
from the catalogue first and recreated verbatim) are dropped and the lexeme statement trigger is
disabled; documents then chunks go in with binary `COPY` (generation in Python interleaved with
COPY batches, so the server's work, mostly the generated tsvector column and foreign-key checks,
overlaps with it); the trigger is re-enabled and the new rows' document frequencies and totals
are added in bulk with the same statements the trigger runs (under its advisory lock), all in one
transaction. Then `VACUUM ANALYZE` (so autovacuum does not start during measurements), then the
GIN and HNSW indexes are rebuilt, each timed on its own (the HNSW build with
`maintenance_work_mem` raised so the graph fits in memory; pgvector's parallel build).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parent / "corpora" / "pg15"
BATCH_CHUNKS = 20_000
NEIGHBOURS = 10
NOISE_COMPONENTS = 256
KEEP_SENTENCE = 0.8
MIX_WEIGHT = (0.0, 0.5)
NOISE_SCALE = (0.4, 0.8)
FOREIGN_SENTENCE = 0.3
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n\n+")


@dataclass
class LoadReport:
    """What one call loaded and how long each stage took (seconds)."""

    chunks: int
    documents: int
    total_chunks: int
    base_chunks: int
    stages: dict[str, float] = field(default_factory=dict)
    memory: dict[str, int] = field(default_factory=dict)  # peak server memory per index build
    maintenance_work_mem: str = ""

    def summary(self) -> str:
        stages = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.stages.items())
        return (
            f"+{self.chunks:,} chunks in {self.documents:,} documents "
            f"(now {self.total_chunks:,}): {stages}"
        )


@dataclass
class _Base:
    """The manual, chunked, and the embedded subset the synthetic chunks are variants of."""

    pages: list[tuple[str, str, list[int]]]  # (title, source_path, base chunk indexes)
    headings: list[str]
    sentences: list[list[str]]  # per base chunk
    tokens_per_char: np.ndarray
    vectors: np.ndarray  # base chunks' unit vectors, float32
    neighbours: np.ndarray  # each base chunk's nearest other base chunks
    noise_basis: np.ndarray  # principal directions scaled by their standard deviation
    vectors_en: np.ndarray | None  # the same chunks in the English leg's space (None: leg off)
    noise_basis_en: np.ndarray | None
    pool: list[str]  # every sentence of the manual
    texts: list[str]
    token_counts: list[int]
    extras: list[str]
    prepare_s: float


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


@cache
def prepare_base(corpus: str = str(CORPUS), base_chunks: int = 3000, seed: int = 0) -> _Base:
    """Parse and chunk the manual, embed `base_chunks` of it (once per process)."""
    from django.conf import settings

    from assistant.lib.text import extra_terms
    from ingest.chunking import chunk_blocks, embedding_text
    from ingest.embedders import get_embedder, get_english_embedder
    from ingest.parsers import parse

    started = time.perf_counter()
    embedder = get_embedder()
    files = sorted(p for p in Path(corpus).rglob("*") if p.is_file())
    if not files:
        raise SystemExit(f"No corpus at {corpus}: run bench/fetch_corpora.sh first.")
    manual = []
    for path in files:
        parsed = parse(path.read_bytes(), path.name)
        drafts = chunk_blocks(
            parsed.blocks,
            target_tokens=settings.CHUNK_TARGET_TOKENS,
            overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
            max_tokens=embedder.max_input_tokens,
        )
        if drafts:
            manual.append((parsed.title, str(path.relative_to(corpus)), drafts))
    rng = np.random.default_rng(seed)
    pool = [s for _, _, drafts in manual for d in drafts for s in split_sentences(d.text)]
    pages, headings, sentences, ratios, texts, counts, extras, inputs = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    for page in rng.permutation(len(manual)):
        title, source, drafts = manual[page]
        first = len(texts)
        for draft in drafts:
            headings.append(draft.heading_path[:1000])
            sentences.append(split_sentences(draft.text) or [draft.text])
            ratios.append(draft.token_count / max(len(draft.text), 1))
            texts.append(draft.text)
            counts.append(draft.token_count)
            extras.append(extra_terms(f"{draft.heading_path} {draft.text}"))
            inputs.append(embedding_text(title, draft))
        pages.append((title, source, list(range(first, len(texts)))))
        if len(texts) >= base_chunks:
            break
    vectors = _unit(embedder.embed(inputs))
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    neighbours = np.argsort(-similarity, axis=1)[:, :NEIGHBOURS]
    english = get_english_embedder()
    vectors_en = _unit(english.embed(inputs)) if english else None
    return _Base(
        pages=pages,
        headings=headings,
        sentences=sentences,
        tokens_per_char=np.asarray(ratios),
        vectors=vectors,
        neighbours=neighbours,
        noise_basis=_noise_basis(vectors),
        vectors_en=vectors_en,
        noise_basis_en=None if vectors_en is None else _noise_basis(vectors_en),
        pool=pool,
        texts=texts,
        token_counts=counts,
        extras=extras,
        prepare_s=time.perf_counter() - started,
    )


def _unit(vectors: list[list[float]]) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def _noise_basis(vectors: np.ndarray) -> np.ndarray:
    """The principal directions of `vectors`, scaled by their standard deviation so that
    noise drawn on them has unit expected norm."""
    _, singular, directions = np.linalg.svd(vectors - vectors.mean(axis=0), full_matrices=False)
    variance = singular**2 / len(vectors)
    keep = min(NOISE_COMPONENTS, len(variance))
    scale = np.sqrt(variance[:keep] / variance.sum())
    return (directions[:keep] * scale[:, None]).astype(np.float32)


def _mixed(vectors, basis, a, b, w, s, rng) -> np.ndarray:
    """`v = a + w·b + s·e`, normalised (see the module's docstring)."""
    noise = rng.standard_normal((len(a), len(basis)), dtype=np.float32)
    mixed = vectors[a] + w[:, None] * vectors[b] + s[:, None] * (noise @ basis)
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


def _document(base: _Base, position: int, seed: int, limit: int):
    """Document number `position`: a variant of one base page (variant 0 is the page itself).

    Returns (title, source_path, rows, vectors, vectors_en) with rows as (text, heading, tokens,
    extra) and the vectors as arrays (vectors_en None when the English leg is off)."""
    from assistant.lib.text import extra_terms

    variant, page = divmod(position, len(base.pages))
    title, source, members = base.pages[page]
    members = members[:limit]
    source_path = f"synthetic/{variant:05d}/{source}"
    if variant == 0:
        rows = [
            (base.texts[i], base.headings[i], base.token_counts[i], base.extras[i]) for i in members
        ]
        english = None if base.vectors_en is None else base.vectors_en[members]
        return title, source_path, rows, base.vectors[members], english
    rng = np.random.default_rng([seed, position])
    a = np.asarray(members)
    b = base.neighbours[a, rng.integers(0, base.neighbours.shape[1], len(a))]
    w = rng.uniform(*MIX_WEIGHT, len(a)).astype(np.float32)
    s = rng.uniform(*NOISE_SCALE, len(a)).astype(np.float32)
    vectors = _mixed(base.vectors, base.noise_basis, a, b, w, s, rng)
    rows = []
    for i, j, weight in zip(a.tolist(), b.tolist(), w.tolist(), strict=True):
        own = base.sentences[i]
        kept = [
            x for x, keep in zip(own, rng.random(len(own)) < KEEP_SENTENCE, strict=True) if keep
        ]
        kept = kept or own[:1]
        other = base.sentences[j]
        for sentence in rng.choice(len(other), round(weight * len(other)), replace=False):
            kept.insert(int(rng.integers(0, len(kept) + 1)), other[sentence])
        if rng.random() < FOREIGN_SENTENCE:
            kept.insert(
                int(rng.integers(0, len(kept) + 1)), base.pool[rng.integers(0, len(base.pool))]
            )
        text = " ".join(kept)
        heading = base.headings[i]
        tokens = max(1, round(len(text) * base.tokens_per_char[i]))
        # Sentences moved between chunks take their identifiers with them.
        rows.append((text, heading, tokens, extra_terms(f"{heading} {text}")))
    if base.vectors_en is None:
        return title, source_path, rows, vectors, None
    # Drawn after the text, so the text and main vectors stay what they were before this leg.
    english = _mixed(base.vectors_en, base.noise_basis_en, a, b, w, s, rng)
    return title, source_path, rows, vectors, english


def connect():
    import psycopg
    from django.db import connection
    from pgvector.psycopg import register_vector

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context"):
        params.pop(key, None)
    conn = psycopg.connect(**params)
    register_vector(conn)
    return conn


# Rebuilt after each load, in this order; each build is timed on its own.
INDEXES = {
    "chunk_search_gin": "gin_build",
    "chunk_embedding_hnsw": "hnsw_build",
    "chunk_embedding_en_hnsw": "hnsw_en_build",
}


def model_index_sql(name: str) -> str:
    """The index as the app defines it (ingest.models.Chunk's Meta, which the migrations follow)."""
    from django.db import connection

    from ingest.models import Chunk

    index = next(i for i in Chunk._meta.indexes if i.name == name)
    with connection.schema_editor(collect_sql=True) as editor:
        return str(index.create_sql(Chunk, editor))


def _index_definitions(cursor) -> dict[str, str]:
    """The chunk indexes as they are (a benchmark may have replaced one), else as the app
    defines them (a run stopped while one was being built)."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ingest_chunk' "
        "AND indexname = ANY(%s)",
        [list(INDEXES)],
    )
    found = dict(cursor.fetchall())
    return {name: found.get(name) or model_index_sql(name) for name in INDEXES}


DOCUMENT_COLUMNS = (
    "id, collection_id, title, source_path, media_type, sha256, size_bytes, file, version, "
    "status, stage, progress, parsed_blocks, chunk_count, embedded_count, failure_reason, "
    "timings, attempts, created_at, updated_at, ready_at, ocr_pages, language"
)
CHUNK_COLUMNS = (
    "document_id, collection_id, ordinal, text, heading_path, token_count, search_extra, "
    "embedding, embedding_en"
)
CHUNK_TYPES = ["int8", "int8", "int4", "text", "text", "int4", "text", "vector", "vector"]

# The lexeme trigger's INSERT branch (migration 0003), over the rows this call added.
LEXEME_SQL = """
INSERT INTO ingest_lexeme (lexeme, df)
SELECT u.lexeme, count(*) FROM ingest_chunk c, unnest(c.search_vector) u
WHERE c.id > %(after)s GROUP BY u.lexeme
ON CONFLICT (lexeme) DO UPDATE SET df = ingest_lexeme.df + EXCLUDED.df
"""
TOTALS_SQL = """
INSERT INTO ingest_lexicaltotals (id, chunks, length)
SELECT 1, count(*), coalesce(sum(length(search_vector)), 0) FROM ingest_chunk
WHERE id > %(after)s
ON CONFLICT (id) DO UPDATE SET chunks = ingest_lexicaltotals.chunks + EXCLUDED.chunks,
    length = ingest_lexicaltotals.length + EXCLUDED.length
"""


def load_synthetic_chunks(
    n: int,
    collection,
    *,
    base_chunks: int = 3000,
    seed: int = 0,
    corpus: Path | str = CORPUS,
    maintenance_work_mem: str = "4GB",
    progress=None,
    watch=None,
) -> LoadReport:
    """Append `n` synthetic chunks (in READY documents) to `collection` and rebuild the indexes.

    `collection` is an `ingest.models.Collection`; access rules are the caller's (set readers or
    `is_public`). Returns a LoadReport with the stage timings in seconds: prepare (parse, chunk
    and embed the base set; 0 after the first call in a process), generate (Python, text and
    vectors), copy (COPY wall time not spent generating), lexical_stats, vacuum_analyze,
    gin_build, hnsw_build, hnsw_en_build. `progress`, if given, is called with a line of text now
    and then. `watch`, if given, is a context manager factory wrapped around each index build
    whose value has a `peak` (bytes) after it: the report's `memory` holds them by stage.
    """
    from contextlib import nullcontext

    from ingest import embedding_space
    from ingest.embedders import get_embedder
    from ingest.models import Document

    say = progress or (lambda line: None)
    fresh = prepare_base.cache_info().currsize == 0
    base = prepare_base(str(corpus), base_chunks, seed)
    stages = {"prepare": base.prepare_s if fresh else 0.0}
    memory: dict[str, int] = {}
    if embedding_space.recorded() is None:
        embedding_space.record(get_embedder())
    position = Document.objects.filter(
        collection=collection, source_path__startswith="synthetic/"
    ).count()
    say(f"base set: {len(base.texts)} chunks from {len(base.pages)} pages")

    generate_s = 0.0
    documents = 0
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM ingest_chunk")
        after = cur.fetchone()[0]
        indexes = _index_definitions(cur)
        for name in INDEXES:
            cur.execute(f"DROP INDEX IF EXISTS {name}")
        cur.execute("ALTER TABLE ingest_chunk DISABLE TRIGGER ingest_chunk_lexemes_insert")
        cur.execute("SELECT pg_get_serial_sequence('ingest_document', 'id')")
        sequence = cur.fetchone()[0]
        started = time.perf_counter()
        left = n
        while left:
            clock = time.perf_counter()
            docs, chunk_rows = [], []
            while left and len(chunk_rows) < BATCH_CHUNKS:
                title, source, rows, vectors, english = _document(base, position, seed, left)
                position += 1
                docs.append((title, source, len(rows)))
                chunk_rows.append(
                    (rows, vectors, english if english is not None else [None] * len(rows))
                )
                left -= len(rows)
            cur.execute("SELECT setval(%s, nextval(%s) + %s - 1)", [sequence, sequence, len(docs)])
            first_id = cur.fetchone()[0] - len(docs) + 1
            generate_s += time.perf_counter() - clock
            with cur.copy(f"COPY ingest_document ({DOCUMENT_COLUMNS}) FROM STDIN") as copy:
                for offset, (title, source, count) in enumerate(docs):
                    sha = hashlib.sha256(f"{collection.pk}:{source}".encode()).hexdigest()
                    copy.write_row(
                        (
                            first_id + offset,
                            collection.pk,
                            title[:500],
                            source,
                            "text/html",
                            sha,
                            0,
                            "",
                            1,
                            Document.Status.READY,
                            "",
                            100,
                            count,
                            count,
                            count,
                            "",
                            "{}",
                            1,
                            "now",
                            "now",
                            "now",
                            "[]",
                            "",
                        )
                    )
            with cur.copy(
                f"COPY ingest_chunk ({CHUNK_COLUMNS}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(CHUNK_TYPES)
                for offset, (rows, vectors, english) in enumerate(chunk_rows):
                    for ordinal, ((text, heading, tokens, extra), vector, vector_en) in enumerate(
                        zip(rows, vectors, english, strict=True)
                    ):
                        copy.write_row(
                            (
                                first_id + offset,
                                collection.pk,
                                ordinal,
                                text,
                                heading,
                                tokens,
                                extra,
                                vector,
                                vector_en,
                            )
                        )
            documents += len(docs)
            say(f"  loaded {n - left:,}/{n:,} chunks ({time.perf_counter() - started:.0f} s)")
        # The deferred foreign-key checks must run before the trigger can be switched back on.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("ALTER TABLE ingest_chunk ENABLE TRIGGER ingest_chunk_lexemes_insert")
        load_s = time.perf_counter() - started
        stages["generate"] = generate_s
        stages["copy"] = load_s - generate_s

        clock = time.perf_counter()
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('ingest_lexeme'))")
        cur.execute(LEXEME_SQL, {"after": after})
        cur.execute(TOTALS_SQL, {"after": after})
        conn.commit()
        stages["lexical_stats"] = time.perf_counter() - clock

        conn.autocommit = True
        clock = time.perf_counter()
        cur.execute("VACUUM ANALYZE ingest_chunk")
        cur.execute("VACUUM ANALYZE ingest_document")
        cur.execute("VACUUM ANALYZE ingest_lexeme")
        stages["vacuum_analyze"] = time.perf_counter() - clock

        # HNSW builds with the graph in memory (pgvector's parallel build).
        cur.execute("SELECT set_config('maintenance_work_mem', %s, false)", [maintenance_work_mem])
        for name, stage in INDEXES.items():
            clock = time.perf_counter()
            with (watch or nullcontext)() as watched:
                cur.execute(indexes[name])
            stages[stage] = time.perf_counter() - clock
            if watched is not None:
                memory[stage] = watched.peak
        cur.execute("ANALYZE ingest_chunk")
        cur.execute("SELECT count(*) FROM ingest_chunk")
        total = cur.fetchone()[0]
    return LoadReport(
        chunks=n,
        documents=documents,
        total_chunks=total,
        base_chunks=len(base.texts),
        stages=stages,
        memory=memory,
        maintenance_work_mem=maintenance_work_mem,
    )
