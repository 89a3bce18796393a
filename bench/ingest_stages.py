"""Where a passage's ingestion time goes, stage by stage, in one process on one thread.

    bench/fetch_corpora.sh && .venv/bin/python bench/ingest_stages.py [--files 300]

Parses the first FILES files of the corpus (the PostgreSQL manual by default), then times each
stage over all their passages: chunking (most of it tokenising with USE's SentencePiece), the
USE vectors, the English leg (MiniLM), `search_extra`, the write (one bulk insert, as the
pipeline's swap does, with every index and the lexical triggers), the same write without the
vector and text indexes (the difference is index maintenance), and the backfill's update of the
English vectors. In-process stages count this process's CPU seconds, so a busy machine moves
them little; the writes count wall seconds (the server does the work). Prints passages/s.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ["EMBEDDING_THREADS"] = "1"  # one core's figures; the pipeline uses a core per process

from common import ROOT, ScratchDatabase, stamp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT / "bench" / "corpora" / "pg15"))
    parser.add_argument("--files", type=int, default=300)
    args = parser.parse_args()
    files = sorted(p for p in Path(args.corpus).rglob("*") if p.is_file())[: args.files]
    with ScratchDatabase():
        from django.conf import settings
        from django.db import connection, transaction

        from assistant.lib.text import extra_terms
        from ingest.chunking import chunk_blocks, embedding_text
        from ingest.embedders import get_embedder, get_english_embedder
        from ingest.embedding_space import vector_literal
        from ingest.models import Chunk, Collection, Document
        from ingest.parsers import parse

        embedder, english = get_embedder(), get_english_embedder()
        embedder.embed(["warm up"]), english.embed(["warm up"])
        parsed = [parse(file.read_bytes(), file.name) for file in files]
        cpu: dict[str, float] = {}

        def timed(stage: str, work):
            started = time.process_time()
            result = work()
            cpu[stage] = time.process_time() - started
            return result

        drafts = timed(
            "chunk",
            lambda: [
                (document.title, draft)
                for document in parsed
                for draft in chunk_blocks(
                    document.blocks,
                    target_tokens=settings.CHUNK_TARGET_TOKENS,
                    overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
                    max_tokens=embedder.max_input_tokens,
                )
            ],
        )
        texts = [embedding_text(title, draft) for title, draft in drafts]
        vectors = timed("USE vectors", lambda: embedder.embed(texts))
        vectors_en = timed("English leg (MiniLM)", lambda: english.embed(texts))
        extras = timed(
            "search_extra",
            lambda: [extra_terms(f"{d.heading_path} {d.text}") for _, d in drafts],
        )
        collection = Collection.objects.create(name="bench")
        wall: dict[str, float] = {}

        def write(stage: str) -> None:
            document = Document.objects.create(collection=collection, source_path=stage)
            rows = [
                Chunk(
                    document=document,
                    collection=collection,
                    ordinal=i,
                    text=draft.text,
                    heading_path=draft.heading_path,
                    token_count=draft.token_count,
                    search_extra=extra,
                    embedding=vector,
                    embedding_en_pending=True,
                )
                for i, ((_, draft), extra, vector) in enumerate(
                    zip(drafts, extras, vectors, strict=True)
                )
            ]
            started = time.perf_counter()
            with transaction.atomic():
                Chunk.objects.bulk_create(rows, batch_size=500)
            wall[stage] = time.perf_counter() - started

        write("write")
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            ids = list(Chunk.objects.order_by("pk").values_list("pk", flat=True))
            cursor.execute(
                "UPDATE ingest_chunk c SET embedding_en = v.e::vector, embedding_en_pending = "
                "false FROM unnest(%s::bigint[], %s::text[]) AS v(id, e) WHERE c.id = v.id",
                [ids, [vector_literal(v) for v in vectors_en]],
            )
        wall["backfill update"] = time.perf_counter() - started
        with connection.cursor() as cursor:
            for index in ("chunk_embedding_hnsw", "chunk_embedding_en_hnsw", "chunk_search_gin"):
                cursor.execute(f"DROP INDEX {index}")
        write("write, no vector or text index")

    n = len(drafts)
    print(f"Ingestion stages, {stamp()}, load average {os.getloadavg()[0]:.1f}")
    print(f"corpus: {args.corpus}, {len(files)} files, {n} passages, one thread")
    for stage, seconds in [*cpu.items(), *wall.items()]:
        kind = "CPU" if stage in cpu else "wall"
        print(f"  {stage:>32}: {seconds:6.1f} s {kind}, {n / seconds:7.0f} passages/s")


if __name__ == "__main__":
    main()
