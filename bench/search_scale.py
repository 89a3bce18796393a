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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import ROOT, ScratchDatabase, stamp
from synthetic import CORPUS, connect, load_synthetic_chunks, model_index_sql

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


@dataclass(frozen=True)
class Mode:
    """How the dense query runs: its settings, how many candidates the index is asked for
    (ordered by exact distance after), whether the index holds half-precision vectors."""

    settings: tuple[str, ...]
    pool: int = 60
    halfvec: bool = False


def hnsw_mode(ef_search: int, *, pool: int = 60, halfvec: bool = False) -> Mode:
    return Mode(
        (
            f"SET LOCAL hnsw.ef_search = {ef_search}",
            "SET LOCAL hnsw.iterative_scan = relaxed_order",
        ),
        pool=pool,
        halfvec=halfvec,
    )


EXACT = Mode(("SET LOCAL enable_indexscan = off", "SET LOCAL enable_bitmapscan = off"))


def dense(cursor, allowed, vector: str, limit: int, mode: Mode, column: str, explain="") -> list:
    """(id, cosine distance, ...) of the nearest chunks, nearest first; with `explain` (its
    options), the plan's lines."""
    from django.db import transaction

    from ingest.search.dense import dense_sql

    sql, params = allowed
    with transaction.atomic():
        for statement in mode.settings:
            cursor.execute(statement)
        cursor.execute(
            (f"EXPLAIN ({explain}) " if explain else "")
            + dense_sql(column, allowed=sql, halfvec=mode.halfvec),
            [vector, *params, vector, max(mode.pool, limit), limit],
        )
        return cursor.fetchall()


def plan(cursor, allowed, vector: str, limit: int, mode: Mode, column: str, *, analyze=False):
    options = "ANALYZE, BUFFERS" if analyze else "COSTS OFF"
    rows = dense(cursor, allowed, vector, limit, mode, column, explain=options)
    return "\n".join(row[0] for row in rows)


def exact_neighbours(allowed, vectors: list[str], column: str, cache: Path | None) -> dict:
    """The true nearest chunks of each vector: every allowed chunk's vector read once and
    compared in numpy (a sequential scan and sort per question takes seconds at a million
    chunks). The first questions are also asked of PostgreSQL with index scans off, which must
    agree, and time that. Kept in `cache` (a JSON file) when given: it changes only with the data.
    """
    from django.db import connection

    from ingest.search.retrieval import CANDIDATES

    if cache and cache.exists():
        return json.loads(cache.read_text())
    queries = np.asarray([json.loads(v) for v in vectors], dtype=np.float64)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    best_ids = np.empty((len(queries), 0), dtype=np.int64)
    best = np.empty((len(queries), 0))
    sql, params = allowed
    with connect() as conn, conn.cursor(name="exact") as cursor:
        cursor.itersize = 20_000
        cursor.execute(
            f"SELECT id, {column} FROM ingest_chunk "
            f"WHERE collection_id IN ({sql}) AND {column} IS NOT NULL",
            params,
        )
        while rows := cursor.fetchmany(20_000):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            matrix = np.stack([r[1].to_numpy() for r in rows]).astype(np.float64)
            distance = 1.0 - (queries @ matrix.T) / np.linalg.norm(matrix, axis=1)
            best = np.concatenate([best, distance], axis=1)
            best_ids = np.concatenate([best_ids, np.broadcast_to(ids, distance.shape)], axis=1)
            keep = np.argsort(best, axis=1, kind="stable")[:, :CANDIDATES]
            best = np.take_along_axis(best, keep, axis=1)
            best_ids = np.take_along_axis(best_ids, keep, axis=1)
    truth = [
        [[int(i), float(d)] for i, d in zip(ids, distances, strict=True)]
        for ids, distances in zip(best_ids, best, strict=True)
    ]
    checked, exact_ms = 0, []
    with connection.cursor() as cursor:
        if "_hnsw" in plan(cursor, allowed, vectors[0], CANDIDATES, EXACT, column):
            raise SystemExit("the exact query still uses the HNSW index")
        for vector, rows in zip(vectors[:3], truth, strict=False):
            clock = time.perf_counter()
            found = dense(cursor, allowed, vector, CANDIDATES, EXACT, column)
            exact_ms.append((time.perf_counter() - clock) * 1000)
            tenth = rows[9][1] if len(rows) > 9 else 2.0
            if {r[0] for r in found if r[1] < tenth - 1e-5} - {r[0] for r in rows[:10]}:
                raise SystemExit(f"numpy and PostgreSQL disagree on the nearest {column}")
            checked += 1
    found = {"rows": truth, "exact_ms_p50": pct(exact_ms, 50), "checked_in_sql": checked}
    if cache:
        cache.write_text(json.dumps(found))
    return found


def measure_recall(
    allowed, vectors: list[str], modes: dict[str, Mode], column: str, truth: dict
) -> dict:
    from django.db import connection

    from ingest.search.retrieval import CANDIDATES

    out: dict = {"exact_ms_p50": truth["exact_ms_p50"]}
    with connection.cursor() as cursor:
        uses = {
            name: "_hnsw" in plan(cursor, allowed, vectors[0], CANDIDATES, s, column)
            for name, s in modes.items()
        }
        for name, settings in modes.items():
            r10, near10, r60, returned, ms = [], [], [], [], []
            for vector, exact_rows in zip(vectors, truth["rows"], strict=True):
                clock = time.perf_counter()
                found_rows = dense(cursor, allowed, vector, CANDIDATES, settings, column)
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


def index_sql(spec: str) -> tuple[str, bool]:
    """The CREATE INDEX statement for an --index spec, and whether it is over halfvec."""
    from ingest.search.dense import HALFVEC, dimensions

    if spec == "app":
        return model_index_sql("chunk_embedding_hnsw"), HALFVEC
    parts = [part.strip() for part in spec.split(",")]
    halfvec = "halfvec" in parts
    params = ", ".join(part.replace("=", " = ") for part in parts if "=" in part)
    width = dimensions("embedding")
    column = (
        f"(embedding::halfvec({width})) halfvec_cosine_ops"
        if halfvec
        else "embedding vector_cosine_ops"
    )
    sql = f"CREATE INDEX chunk_embedding_hnsw ON ingest_chunk USING hnsw ({column})"
    return sql + (f" WITH ({params})" if params else ""), halfvec


def try_index(
    spec: str,
    *,
    allowed,
    vectors: list[str],
    truth: dict,
    ef_list: list[int],
    pools: list[int],
    database,
    maintenance_work_mem: str,
) -> dict:
    """Build the main leg's HNSW index as `spec` says, in place of the one there, and measure
    its recall at each ef_search and pool."""
    from django.db import connection

    from ingest.search.retrieval import CANDIDATES

    if spec == "current":
        sql = index_definitions()["chunk_embedding_hnsw"]
        halfvec = "halfvec" in sql
    else:
        sql, halfvec = index_sql(spec)
    out: dict = {"spec": spec, "sql": sql, "loadavg_start": loadavg()}
    log(f"index {spec}: {sql} (load average {out['loadavg_start']})")
    with connection.cursor() as cursor:
        if spec != "current":
            cursor.execute(
                "SELECT set_config('maintenance_work_mem', %s, false)", [maintenance_work_mem]
            )
            cursor.execute("DROP INDEX IF EXISTS chunk_embedding_hnsw")
            clock = time.perf_counter()
            with database.watch_memory() as watched:
                cursor.execute(sql)
            out["build_s"] = time.perf_counter() - clock
            out["build_peak_memory"] = watched.peak
        cursor.execute("SELECT pg_relation_size('chunk_embedding_hnsw')")
        out["size"] = cursor.fetchone()[0]
    modes = {
        f"ef_search={ef}, pool={size}": hnsw_mode(ef, pool=max(size, CANDIDATES), halfvec=halfvec)
        for ef in ef_list
        for size in pools
    }
    out["recall"] = measure_recall(allowed, vectors, modes, "embedding", truth)
    out["loadavg_end"] = loadavg()
    log(f"index {spec}: " + json.dumps({k: v for k, v in out.items() if k != "sql"}))
    return out


def index_definitions() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ingest_chunk' "
            "AND indexname LIKE '%%_hnsw'"
        )
        return dict(cursor.fetchall())


def explain(allowed, text: str, vector: str, settings: list[str]) -> str:
    from django.db import connection

    from ingest.search.lexical import bm25_query
    from ingest.search.retrieval import CANDIDATES

    with connection.cursor() as cursor:
        dense_plan = plan(cursor, allowed, vector, CANDIDATES, settings, "embedding", analyze=True)
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
            + ", ".join(
                f"coalesce(pg_relation_size(to_regclass('{name}')), 0)"
                for name in ("chunk_embedding_hnsw", "chunk_embedding_en_hnsw", "chunk_search_gin")
            )
            + ", (SELECT count(*) FROM ingest_lexeme)"
        )
        database, table, hnsw, hnsw_en, gin, lexemes = cursor.fetchone()
        # What each leg stores in the table (compressed or out of line as PostgreSQL keeps it).
        cursor.execute(
            "SELECT "
            + ", ".join(f"coalesce(sum(pg_column_size({column})), 0)" for column in COLUMN_SIZES)
            + " FROM ingest_chunk"
        )
        columns = dict(zip(COLUMN_SIZES, cursor.fetchone(), strict=True))
    return {
        "database": database,
        "table": table,
        "hnsw": hnsw,
        "hnsw_en": hnsw_en,
        "gin": gin,
        "lexemes": lexemes,
        "columns": columns,
    }


COLUMN_SIZES = (
    "text",
    "heading_path",
    "search_extra",
    "search_vector",
    "embedding",
    "embedding_en",
)


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
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the database in this folder and reuse it: chunks already there are not "
        "loaded again, exact neighbours are computed once",
    )
    parser.add_argument(
        "--index",
        default="",
        help="before measuring search(), try these definitions of the main leg's HNSW index, "
        "';'-separated: 'm=16,ef_construction=64' ('halfvec,' first: over half-precision "
        "copies), 'app' (ingest.models.Chunk's) or 'current' (the one in place, not rebuilt); "
        "each is built in place of the last, its recall measured at every --ef-search and "
        "--pools; search() then runs on the last one",
    )
    parser.add_argument(
        "--pools",
        default="60",
        help="with --index: candidates asked of the index, ordered by exact distance after",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    texts, distinct = questions(args.queries)
    started_at = stamp()
    results = []
    with ScratchDatabase(args.keep) as database:
        from django.contrib.auth import get_user_model

        from ingest.embedders import get_embedder, get_english_embedder
        from ingest.embedding_space import vector_literal
        from ingest.models import Chunk, Collection
        from ingest.search.dense import HALFVEC, ef_search
        from ingest.search.retrieval import CANDIDATES, readable_collections_sql

        code = code_version()
        collection, _ = Collection.objects.get_or_create(name="scale")
        user = get_user_model().objects.filter(username="reader").first()
        user = user or get_user_model().objects.create_user("reader", password=None)
        collection.reader_users.add(user)
        allowed = readable_collections_sql(user, [collection.pk])
        vectors = {"embedding": [vector_literal(v) for v in get_embedder().embed(texts[:distinct])]}
        if english := get_english_embedder():
            vectors["embedding_en"] = [vector_literal(v) for v in english.embed(texts[:distinct])]
        extra_ef = [int(x) for x in args.ef_search.split(",") if x.strip()]
        pools = [int(x) for x in args.pools.split(",") if x.strip()]
        loaded = Chunk.objects.filter(collection=collection).count()
        for size in sizes:
            row: dict = {"size": size, "loadavg_start": loadavg()}
            log(f"== {size:,} chunks (load average {row['loadavg_start']})")
            if size > loaded:
                report = load_synthetic_chunks(
                    size - loaded,
                    collection,
                    base_chunks=args.base_chunks,
                    corpus=args.corpus,
                    maintenance_work_mem=args.maintenance_work_mem,
                    progress=log,
                    watch=database.watch_memory,
                )
                loaded = report.total_chunks
                log(report.summary())
                row["load"] = {
                    "added": report.chunks,
                    "documents": report.documents,
                    "stages_s": report.stages,
                    "memory": report.memory,
                    "maintenance_work_mem": report.maintenance_work_mem,
                }
            else:
                log(f"{loaded:,} chunks already loaded in {args.keep}")
            clock = time.perf_counter()
            truth = {
                column: exact_neighbours(
                    allowed,
                    column_vectors,
                    column,
                    args.keep / f"exact-{column}-{loaded}-{distinct}.json" if args.keep else None,
                )
                for column, column_vectors in vectors.items()
            }
            log(f"exact neighbours in {time.perf_counter() - clock:.0f} s")
            row["options"] = [
                try_index(
                    spec,
                    allowed=allowed,
                    vectors=vectors["embedding"],
                    truth=truth["embedding"],
                    ef_list=extra_ef,
                    pools=pools,
                    database=database,
                    maintenance_work_mem=args.maintenance_work_mem,
                )
                for spec in args.index.split(";")
                if spec.strip()
            ]
            # As search() sets them, on the index now in place.
            row["ef_search"] = max(CANDIDATES, ef_search(loaded))
            row["pool"] = CANDIDATES
            row["index"] = index_definitions()
            modes = {"search()": hnsw_mode(row["ef_search"], pool=row["pool"], halfvec=HALFVEC)}
            modes.update({f"ef_search={ef}": hnsw_mode(ef, halfvec=HALFVEC) for ef in extra_ef})
            clock = time.perf_counter()
            row["recall"], row["recall_en"] = {}, {}
            for column, key in (("embedding", "recall"), ("embedding_en", "recall_en")):
                if column in vectors:
                    row[key] = measure_recall(
                        allowed, vectors[column], modes, column, truth[column]
                    )
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
                    allowed, picked, vectors["embedding"][texts.index(picked)], modes["search()"]
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
        f"questions cycled), {WARMUP} warm-up calls; embedder {settings.EMBEDDING_PROVIDER}, "
        f"English leg {settings.EMBEDDING_EN}; synthetic data from bench/synthetic.py."
    )
    print()
    print(
        "| chunks | load (generate+COPY) | HNSW build (main / English) | p50 / p95 excl. "
        "| p50 / p95 incl. | HNSW recall@10 (main / English) | DB size |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in output["results"]:
        lat = row["latency"]
        recall = " / ".join(
            f"{row[key]['search()']['recall_at_10']:.3f}"
            for key in ("recall", "recall_en")
            if row[key]
        )
        if "load" in row:
            stages = row["load"]["stages_s"]
            load = f"{stages['generate'] + stages['copy']:.0f} s (+{row['load']['added']:,})"
            build = f"{stages['hnsw_build']:.1f} / {stages['hnsw_en_build']:.1f} s"
        else:
            load = build = "reused"
        print(
            f"| {row['size']:,} | {load} | {build} "
            f"| {lat['excl']['p50']:.0f} / {lat['excl']['p95']:.0f} ms "
            f"| {lat['incl']['p50']:.0f} / {lat['incl']['p95']:.0f} ms "
            f"| {recall} | {gib(row['disk']['database'])} |"
        )
    print()
    print("Where the time goes, p50 / p95 ms per search() call:")
    print()
    print("| chunks | embed | dense SQL (both legs) | lexical SQL | fuse + load hits | coverage |")
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
        "| chunks | leg | mode | uses HNSW | recall@10 | recall@10 (1% ties) | recall@60 "
        "| rows returned (of 60) | dense p50 / p95 | exact p50 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in output["results"]:
        for key, leg in (("recall", "main"), ("recall_en", "English")):
            for mode, r in row[key].items():
                if not isinstance(r, dict):
                    continue
                if mode == "search()":
                    mode = f"search(), ef_search={row['ef_search']}"
                print(
                    f"| {row['size']:,} | {leg} | {mode} | {'yes' if r['uses_hnsw'] else 'no'} "
                    f"| {r['recall_at_10']:.3f} | {r['recall_at_10_within_1pct']:.3f} "
                    f"| {r['recall_at_60']:.3f} "
                    f"| {r['rows_returned_mean']:.1f} "
                    f"| {r['dense_ms_p50']:.1f} / {r['dense_ms_p95']:.1f} ms "
                    f"| {row[key]['exact_ms_p50']:.0f} ms |"
                )
    for row in output["results"]:
        if row["options"]:
            print_options(row)
    print()
    print("Indexes in place for the search() rows:")
    for row in output["results"]:
        for name, sql in row["index"].items():
            print(f"- {row['size']:,}: {name}: {sql}")
    print()
    print("Load stages (seconds), peak server memory per index build, sizes and machine load:")
    print()
    for row in output["results"]:
        disk = row["disk"]
        load = ""
        if "load" in row:
            load = (
                ", ".join(f"{k} {v:.1f}" for k, v in row["load"]["stages_s"].items())
                + " (maintenance_work_mem "
                + row["load"]["maintenance_work_mem"]
                + "; peak memory "
                + ", ".join(f"{k} {gib(v)}" for k, v in row["load"]["memory"].items())
                + "); "
            )
        print(
            f"- {row['size']:,}: {load}recall {row['recall_s']:.0f} s, latency run "
            f"{row['latency_s']:.0f} s; table {gib(disk['table'])}, HNSW {gib(disk['hnsw'])}, "
            f"English HNSW {gib(disk['hnsw_en'])}, GIN {gib(disk['gin'])}, "
            f"{disk['lexemes']:,} lexemes; stored per column: "
            + ", ".join(f"{k} {gib(v)}" for k, v in disk["columns"].items())
            + f"; load average {row['loadavg_start']} at start, "
            f"{row['loadavg_end']} at end"
        )
    for row in output["results"]:
        if "explain" in row:
            print()
            print(f"EXPLAIN ANALYZE at {row['size']:,} chunks (the p95 query by excl. time)")
            print("```")
            print(row["explain"])
            print("```")


def print_options(row: dict) -> None:
    print()
    print(
        f"Main leg's HNSW index options at {row['size']:,} chunks, each built in place of the "
        "last (peak memory: the server's processes, summed proportional set size, sampled "
        "during the build); recall@10 against exact search for the 156 questions:"
    )
    print()
    print(
        "| index | build | peak memory | index size | mode | recall@10 | recall@10 (1% ties) "
        "| dense p50 / p95 | load average (start → end) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for option in row["options"]:
        first = True
        for mode, r in option["recall"].items():
            if not isinstance(r, dict):
                continue
            built = "build_s" in option
            head = (
                f"{option['spec']} | "
                + (f"{option['build_s']:.0f} s" if built else "(in place)")
                + " | "
                + (gib(option["build_peak_memory"]) if built else "")
                + f" | {gib(option['size'])}"
                if first
                else " | | |"
            )
            tail = f"{option['loadavg_start']} → {option['loadavg_end']}" if first else ""
            print(
                f"| {head} | {mode} | {r['recall_at_10']:.3f} "
                f"| {r['recall_at_10_within_1pct']:.3f} "
                f"| {r['dense_ms_p50']:.1f} / {r['dense_ms_p95']:.1f} ms | {tail} |"
            )
            first = False


if __name__ == "__main__":
    main()
