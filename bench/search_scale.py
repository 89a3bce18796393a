"""Search at scale: latency of the product's retrieval, HNSW recall and index build time.

    bench/fetch_corpora.sh   # once: the PostgreSQL manual the synthetic text is drawn from
    .venv/bin/python bench/search_scale.py [--sizes 10000,100000,1000000] [--queries 200]
                                           [--ef-search 200,400] [--explain] [--json]

For each size (ascending, in one throwaway embedded PostgreSQL; each size adds chunks to the last
one, see bench/synthetic.py for the data): load, rebuild the indexes, then

- latency of `ingest.search.retrieval.search()` exactly as the API calls it (a user who reads the
  collection, `collection_ids=[it]`, default k), after a warm-up. "incl." is the wall time of the
  call, the question's embedding included; "excl." is `total_ms - embed_ms` from the call's own
  timings (dense SQL, lexical SQL, fusion, loading hits, coverage). search() takes no vector, so
  embedding cannot be skipped; the embedding's share (`embed_ms`) also holds one small query of
  the embedding space (~0.3 ms). The question set (bench/questions, 156 distinct) is cycled to
  --queries;
- HNSW recall@10 (and @60, the candidates fusion sees) of the dense query against exact search
  (the same query with index scans disabled: a sequential scan and sort), with the settings
  search() uses and, with --ef-search, other ef_search values. "1% ties" also counts a result
  whose distance is within 1% of the true 10th's as found: the synthetic clusters hold many
  near-equidistant chunks, whose order exact search settles by noise.
- load and index build times (bench/synthetic.py's stages) and the database's size.
  With --explain, EXPLAIN (ANALYZE, BUFFERS) of the dense and lexical SQL for the question at
  the 95th percentile of "excl." time.

Recall and EXPLAIN run the product's own `DENSE_SQL` and `BM25_SQL` (imported), with the
access-control subquery from its `readable_collections_sql`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from common import ROOT, ScratchDatabase, stamp
from synthetic import CORPUS, load_synthetic_chunks

QUESTION_FILES = [
    ROOT / "bench" / "questions" / "pg15.jsonl",
    ROOT / "bench" / "questions" / "mixed.jsonl",
]
WARMUP = 20


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def questions(count: int) -> tuple[list[str], int]:
    distinct = [
        json.loads(line)["q"]
        for path in QUESTION_FILES
        for line in Path(path).read_text().splitlines()
        if line.strip()
    ]
    return [distinct[i % len(distinct)] for i in range(count)], len(distinct)


def pct(values, p: float) -> float:
    return float(np.percentile(values, p)) if len(values) else float("nan")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def dense(cursor, allowed, vector: str, limit: int, settings: list[str]) -> list[tuple]:
    """(id, cosine distance) of the nearest chunks, nearest first."""
    from django.db import transaction

    from ingest.search.dense import DENSE_SQL

    sql, params = allowed
    with transaction.atomic():
        for statement in settings:
            cursor.execute(statement)
        cursor.execute(
            DENSE_SQL.format(allowed=sql, column="embedding"), [vector, *params, vector, limit]
        )
        return cursor.fetchall()


def plan(cursor, allowed, vector: str, limit: int, settings: list[str], *, analyze=False) -> str:
    from django.db import transaction

    from ingest.search.dense import DENSE_SQL

    sql, params = allowed
    options = "ANALYZE, BUFFERS" if analyze else "COSTS OFF"
    with transaction.atomic():
        for statement in settings:
            cursor.execute(statement)
        cursor.execute(
            f"EXPLAIN ({options}) " + DENSE_SQL.format(allowed=sql, column="embedding"),
            [vector, *params, vector, limit],
        )
        return "\n".join(row[0] for row in cursor.fetchall())


def hnsw_settings(ef_search: int) -> list[str]:
    return [
        f"SET LOCAL hnsw.ef_search = {ef_search}",
        "SET LOCAL hnsw.iterative_scan = relaxed_order",
    ]


def measure_recall(allowed, vectors: list[str], modes: dict[str, list[str]]) -> dict:
    from django.db import connection

    from ingest.search.retrieval import CANDIDATES

    exact_settings = ["SET LOCAL enable_indexscan = off", "SET LOCAL enable_bitmapscan = off"]
    out: dict = {}
    with connection.cursor() as cursor:
        uses = {
            name: "chunk_embedding_hnsw" in plan(cursor, allowed, vectors[0], CANDIDATES, s)
            for name, s in {**modes, "exact": exact_settings}.items()
        }
        if uses["exact"]:
            raise SystemExit("the exact query still uses the HNSW index")
        truth, exact_ms = [], []
        for vector in vectors:
            clock = time.perf_counter()
            truth.append(dense(cursor, allowed, vector, CANDIDATES, exact_settings))
            exact_ms.append((time.perf_counter() - clock) * 1000)
        out["exact_ms_p50"] = pct(exact_ms, 50)
        for name, settings in modes.items():
            r10, near10, r60, returned, ms = [], [], [], [], []
            for vector, exact_rows in zip(vectors, truth, strict=True):
                clock = time.perf_counter()
                found_rows = dense(cursor, allowed, vector, CANDIDATES, settings)
                ms.append((time.perf_counter() - clock) * 1000)
                found, exact = [r[0] for r in found_rows], [r[0] for r in exact_rows]
                top = min(10, len(exact))
                r10.append(len(set(found[:10]) & set(exact[:10])) / top)
                # Misses that are near-ties: a result as close as the true 10th, within 1%.
                tenth = exact_rows[top - 1][1]
                near10.append(sum(1 for r in found_rows[:10] if r[1] <= tenth * 1.01) / top)
                r60.append(len(set(found) & set(exact)) / len(exact))
                returned.append(len(found))
            out[name] = {
                "uses_hnsw": uses[name],
                "recall_at_10": float(np.mean(r10)),
                "recall_at_10_within_1pct": float(np.mean(near10)),
                "recall_at_60": float(np.mean(r60)),
                "rows_returned_mean": float(np.mean(returned)),
                "dense_ms_p50": pct(ms, 50),
                "dense_ms_p95": pct(ms, 95),
            }
    return out


def measure_latency(texts: list[str], user, collection_id: int) -> dict:
    from ingest.search.retrieval import search

    for text in texts[:WARMUP]:
        search(text, user=user, collection_ids=[collection_id])
    rows = []
    for text in texts:
        clock = time.perf_counter()
        result = search(text, user=user, collection_ids=[collection_id])
        wall = (time.perf_counter() - clock) * 1000
        t = result.timings
        rows.append(
            {
                "q": text,
                "incl": wall,
                "excl": t["total_ms"] - t["embed_ms"],
                "embed": t["embed_ms"],
                "dense": t["dense_ms"],
                "lexical": t["lexical_ms"],
                "fuse": t["fuse_ms"],
                "coverage": t["total_ms"]
                - t["embed_ms"]
                - t["dense_ms"]
                - t["lexical_ms"]
                - t["fuse_ms"],
                "lexical_matches": result.lexical_matches,
            }
        )
    summary = {
        key: {"p50": pct([r[key] for r in rows], 50), "p95": pct([r[key] for r in rows], 95)}
        for key in ("excl", "incl", "embed", "dense", "lexical", "fuse", "coverage")
    }
    return {"summary": summary, "rows": rows}


def explain(allowed, text: str, vector: str, settings: list[str]) -> str:
    from django.db import connection

    from ingest.search.lexical import bm25_query
    from ingest.search.retrieval import CANDIDATES

    with connection.cursor() as cursor:
        dense_plan = plan(cursor, allowed, vector, CANDIDATES, settings, analyze=True)
        sql, params = bm25_query(text, allowed=allowed, limit=CANDIDATES)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        lexical_plan = "\n".join(row[0] for row in cursor.fetchall())
    return f"question: {text}\n-- dense --\n{dense_plan}\n-- lexical (BM25_SQL) --\n{lexical_plan}"


def code_version() -> str:
    """Which retrieval code was measured: it is being changed while this benchmark is used."""
    import assistant.lib.text
    import ingest.search.retrieval

    parts = []
    for module in (ingest.search.retrieval, assistant.lib.text):
        path = Path(module.__file__)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        parts.append(f"{path.relative_to(ROOT)} sha256 {digest}")
    return ", ".join(parts)


def sizes_on_disk() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_database_size(current_database()), pg_table_size('ingest_chunk'), "
            "pg_relation_size('chunk_embedding_hnsw'), pg_relation_size('chunk_search_gin'), "
            "(SELECT count(*) FROM ingest_lexeme)"
        )
        database, table, hnsw, gin, lexemes = cursor.fetchone()
    return {"database": database, "table": table, "hnsw": hnsw, "gin": gin, "lexemes": lexemes}


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--base-chunks", type=int, default=3000)
    parser.add_argument("--corpus", default=str(CORPUS), help="the pages the text is drawn from")
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument(
        "--ef-search", default="", help="also measure recall at these hnsw.ef_search values"
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE a slow query")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    texts, distinct = questions(args.queries)
    started_at = stamp()
    results = []
    with ScratchDatabase():
        from django.contrib.auth import get_user_model

        from ingest.embedders import get_embedder
        from ingest.embedding_space import vector_literal
        from ingest.models import Collection
        from ingest.search.dense import ef_search
        from ingest.search.retrieval import CANDIDATES, readable_collections_sql

        code = code_version()
        collection = Collection.objects.create(name="scale")
        user = get_user_model().objects.create_user("reader", password=None)
        collection.reader_users.add(user)
        allowed = readable_collections_sql(user, [collection.pk])
        vectors = [vector_literal(v) for v in get_embedder().embed(texts[:distinct])]
        extra_ef = [int(x) for x in args.ef_search.split(",") if x.strip()]
        loaded = 0
        for size in sizes:
            row: dict = {"size": size, "loadavg_start": loadavg()}
            log(f"== {size:,} chunks (load average {row['loadavg_start']})")
            report = load_synthetic_chunks(
                size - loaded,
                collection,
                base_chunks=args.base_chunks,
                corpus=args.corpus,
                maintenance_work_mem=args.maintenance_work_mem,
                progress=log,
            )
            loaded = report.total_chunks
            log(report.summary())
            row["load"] = {
                "added": report.chunks,
                "documents": report.documents,
                "stages_s": report.stages,
                "maintenance_work_mem": report.maintenance_work_mem,
            }
            row["ef_search"] = max(CANDIDATES, ef_search(loaded))  # as search() sets it
            modes = {"search()": hnsw_settings(row["ef_search"])}
            modes.update({f"ef_search={ef}": hnsw_settings(ef) for ef in extra_ef})
            clock = time.perf_counter()
            row["recall"] = measure_recall(allowed, vectors, modes)
            row["recall_s"] = time.perf_counter() - clock
            log(f"recall measured in {row['recall_s']:.0f} s")
            clock = time.perf_counter()
            latency = measure_latency(texts, user, collection.pk)
            row["latency"] = latency["summary"]
            row["latency_s"] = time.perf_counter() - clock
            row["disk"] = sizes_on_disk()
            row["loadavg_end"] = loadavg()
            if args.explain:
                slow = sorted(latency["rows"], key=lambda r: r["excl"])
                picked = slow[int(0.95 * (len(slow) - 1))]["q"]
                row["explain"] = explain(
                    allowed, picked, vectors[texts.index(picked)], modes["search()"]
                )
            log(f"done {size:,} (load average {row['loadavg_end']})")
            results.append(row)
    output = {
        "stamp": started_at,
        "queries": args.queries,
        "distinct_questions": distinct,
        "code": code,
        "results": results,
    }
    if args.json:
        print(json.dumps(output, indent=1))
    else:
        print_report(output)


def print_report(output: dict) -> None:
    from django.conf import settings

    print(f"Search scale benchmark, {output['stamp']}")
    print(f"Measured code: {output['code']}")
    print(
        "Shared machine: other work runs on these 2 cores at the same time; load averages "
        "(1/5/15 min) are shown per size."
    )
    print(
        f"{output['queries']} queries per size ({output['distinct_questions']} distinct "
        f"questions cycled), {WARMUP} warm-up calls; embedder {settings.EMBEDDING_PROVIDER}; "
        "synthetic data from bench/synthetic.py."
    )
    print()
    print(
        "| chunks | load (generate+COPY) | HNSW build | p50 / p95 excl. | p50 / p95 incl. "
        "| HNSW recall@10 | DB size |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in output["results"]:
        stages = row["load"]["stages_s"]
        lat = row["latency"]
        rec = row["recall"]
        print(
            f"| {row['size']:,} | {stages['generate'] + stages['copy']:.0f} s "
            f"(+{row['load']['added']:,}) | {stages['hnsw_build']:.1f} s "
            f"| {lat['excl']['p50']:.0f} / {lat['excl']['p95']:.0f} ms "
            f"| {lat['incl']['p50']:.0f} / {lat['incl']['p95']:.0f} ms "
            f"| {rec['search()']['recall_at_10']:.3f} "
            f"| {gib(row['disk']['database'])} |"
        )
    print()
    print("Where the time goes, p50 / p95 ms per search() call:")
    print()
    print("| chunks | embed | dense SQL | lexical SQL | fuse + load hits | coverage |")
    print("|---|---|---|---|---|---|")
    for row in output["results"]:
        lat = row["latency"]
        cells = " | ".join(
            f"{lat[k]['p50']:.1f} / {lat[k]['p95']:.1f}"
            for k in ("embed", "dense", "lexical", "fuse", "coverage")
        )
        print(f"| {row['size']:,} | {cells} |")
    print()
    print(
        "HNSW recall against exact search: 'search()' runs the dense query with the product's own "
        "settings (in a transaction: hnsw.ef_search by corpus size, shown per row, relaxed_order); "
        "ef_search=N rows change only ef_search."
    )
    print()
    print(
        "| chunks | mode | uses HNSW | recall@10 | recall@10 (1% ties) | recall@60 "
        "| rows returned (of 60) | dense p50 / p95 | exact p50 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in output["results"]:
        for mode, r in row["recall"].items():
            if not isinstance(r, dict):
                continue
            if mode == "search()":
                mode = f"search(), ef_search={row['ef_search']}"
            print(
                f"| {row['size']:,} | {mode} | {'yes' if r['uses_hnsw'] else 'no'} "
                f"| {r['recall_at_10']:.3f} | {r['recall_at_10_within_1pct']:.3f} "
                f"| {r['recall_at_60']:.3f} "
                f"| {r['rows_returned_mean']:.1f} "
                f"| {r['dense_ms_p50']:.1f} / {r['dense_ms_p95']:.1f} ms "
                f"| {row['recall']['exact_ms_p50']:.0f} ms |"
            )
    print()
    print("Load stages (seconds) and machine load:")
    print()
    for row in output["results"]:
        stages = row["load"]["stages_s"]
        disk = row["disk"]
        print(
            f"- {row['size']:,}: "
            + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
            + f" (maintenance_work_mem {row['load']['maintenance_work_mem']}); "
            f"recall {row['recall_s']:.0f} s, latency run {row['latency_s']:.0f} s; "
            f"table {gib(disk['table'])}, HNSW {gib(disk['hnsw'])}, GIN {gib(disk['gin'])}, "
            f"{disk['lexemes']:,} lexemes; load average {row['loadavg_start']} at start, "
            f"{row['loadavg_end']} at end"
        )
    for row in output["results"]:
        if "explain" in row:
            print()
            print(f"EXPLAIN ANALYZE at {row['size']:,} chunks (the p95 query by excl. time)")
            print("```")
            print(row["explain"])
            print("```")


if __name__ == "__main__":
    main()
