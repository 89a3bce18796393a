"""Search through a streaming replica: what choosing it costs, search latency through it against
the primary, and the share of searches it serves while the primary writes.

    bench/fetch_corpora.sh   # once: the PostgreSQL manual the synthetic text is drawn from
    .venv/bin/python bench/replica_reads.py [--chunks 20000] [--searches 200]
                                            [--max-lag-ms 0,20,100] [--write-s 10]

One throwaway embedded PostgreSQL and a hot standby of it (`EmbeddedPostgres.start_replica`:
pg_basebackup, a replication slot, loopback), `--chunks` synthetic chunks (bench/synthetic.py) in
a public collection, then

- choosing: `assistant.lib.replicas.for_search()` on a quiet primary, `--searches` times: its
  time (the primary's flushed WAL position, then the replica's replay position) and where it
  sent the search;
- latency of `ingest.search.retrieval.search()` excluding the question's embedding
  (`total_ms - embed_ms`: choosing, dense and lexical SQL, fusion, loading hits, coverage), each
  question once through the replica and once on the primary (inside a transaction, where a
  search reads the primary), alternating, after a warm-up;
- under writes: a thread inserts 200 rows of 2 kB per transaction on the primary, back to back,
  while `for_search()` is called every 20 ms for `--write-s` seconds, for each
  DATABASE_REPLICA_MAX_LAG_MS in `--max-lag-ms`: the share of searches the replica served
  (a replica found lagging rests for DATABASE_REPLICA_RETRY_S, and those searches count as the
  primary's) and the WAL the writer made.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import ROOT, stamp
from synthetic import CORPUS, load_synthetic_chunks

QUESTION_FILES = [ROOT / "bench" / "questions" / "pg15.jsonl"]
WARMUP = 10
WRITE_SQL = (
    "INSERT INTO bench_writes (body) SELECT repeat(md5(g::text), 64) FROM generate_series(1, 200) g"
)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ms(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):.2f} ms, p95 {np.percentile(values, 95):.2f} ms"


def questions(count: int) -> list[str]:
    distinct = [
        json.loads(line)["q"]
        for path in QUESTION_FILES
        for line in Path(path).read_text().splitlines()
        if line.strip()
    ]
    return [distinct[i % len(distinct)] for i in range(count)]


def choosing(count: int) -> tuple[list[float], int]:
    from assistant.lib import replicas

    times, served = [], 0
    for _ in range(count):
        clock = time.perf_counter()
        served += replicas.for_search() != "default"
        times.append((time.perf_counter() - clock) * 1000)
    return times, served


def caught_up(*, timeout: float) -> None:
    """Wait until the replica has replayed the load (index builds make a lot of WAL)."""
    from django.conf import settings

    from assistant.lib import replicas

    deadline = time.monotonic() + timeout
    while replicas.for_search() == "default":
        if time.monotonic() > deadline:
            raise SystemExit("the replica did not catch up with the primary")
        time.sleep(settings.DATABASE_REPLICA_RETRY_S)


def latency(texts: list[str]) -> dict[str, list[float]]:
    from django.db import transaction

    from ingest.search.retrieval import search

    def excl(query: str) -> float:
        found = search(query, user=None)
        return found.timings["total_ms"] - found.timings["embed_ms"]

    for query in texts[:WARMUP]:
        excl(query)
        with transaction.atomic():
            excl(query)
    results: dict[str, list[float]] = {"replica": [], "primary": []}
    for query in texts:
        results["replica"].append(excl(query))
        with transaction.atomic():
            results["primary"].append(excl(query))
    return results


def under_writes(primary_url: str, max_lag_ms: int, seconds: float) -> dict:
    import psycopg
    from django.conf import settings

    from assistant.lib import replicas

    settings.DATABASE_REPLICA_MAX_LAG_MS = max_lag_ms
    stop = threading.Event()
    wal = {}

    def write() -> None:
        with psycopg.connect(primary_url, autocommit=True) as db:
            wal["start"] = db.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            while not stop.is_set():
                db.execute(WRITE_SQL)
            wal["bytes"] = db.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [str(wal["start"])]
            ).fetchone()[0]

    writer = threading.Thread(target=write)
    writer.start()
    times, served, total = [], 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        clock = time.perf_counter()
        served += replicas.for_search() != "default"
        times.append((time.perf_counter() - clock) * 1000)
        total += 1
        time.sleep(0.02)
    stop.set()
    writer.join()
    return {
        "served": served,
        "total": total,
        "times": times,
        "wal_mb_s": float(wal["bytes"]) / 2**20 / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--max-lag-ms", default="0,20,100")
    parser.add_argument("--write-s", type=float, default=10.0)
    parser.add_argument("--base-chunks", type=int, default=3000)
    parser.add_argument("--corpus", default=str(CORPUS), help="the pages the text is drawn from")
    parser.add_argument("--maintenance-work-mem", default="1GB")
    args = parser.parse_args()
    started_at = stamp()
    log(f"load average at start: {loadavg()}")

    from assistant.lib import var
    from assistant.lib.embedded_db import EmbeddedPostgres
    from assistant.lib.ports import free_port

    root = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    root.chmod(0o755)
    primary = EmbeddedPostgres(
        data_dir=root / "primary" / "data", port=free_port(), settings={"shared_buffers": "256MB"}
    )
    replica = None
    try:
        primary.ensure_running()
        replica = primary.start_replica(root / "replica" / "data", slot="bench")
        os.environ |= {
            "DATABASE_URL": primary.url,
            "DATABASE_REPLICA_URLS": replica.url,
            "VAR_DIR": str(root / "var"),
        }
        var.prepare(root / "var")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assistant.settings")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        run(args, primary.url, started_at)
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        if replica is not None:
            replica.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


def run(args, primary_url: str, started_at: str) -> None:
    import psycopg
    from django.conf import settings

    from ingest.models import Collection

    collection = Collection.objects.create(name="replicas", is_public=True)
    report = load_synthetic_chunks(
        args.chunks,
        collection,
        base_chunks=args.base_chunks,
        corpus=args.corpus,
        maintenance_work_mem=args.maintenance_work_mem,
        progress=log,
    )
    log(report.summary())
    with psycopg.connect(primary_url, autocommit=True) as db:
        db.execute("CREATE TABLE bench_writes (id bigserial PRIMARY KEY, body text)")
    caught_up(timeout=120)
    chosen_ms, chosen = choosing(args.searches)
    load_choosing = loadavg()
    searches = latency(questions(args.searches))
    load_latency = loadavg()
    writes = {}
    for max_lag in [int(x) for x in args.max_lag_ms.split(",") if x.strip()]:
        time.sleep(settings.DATABASE_REPLICA_RETRY_S)  # a replica left resting comes back
        writes[max_lag] = under_writes(primary_url, max_lag, args.write_s)
        writes[max_lag]["load"] = loadavg()

    print(f"Replica reads benchmark, {started_at}")
    print(f"{report.total_chunks:,} chunks; one primary and one hot standby on loopback")
    print(
        f"choosing (quiet primary, {args.searches} calls): {ms(chosen_ms)}; "
        f"replica chosen {chosen}/{args.searches} (load average {load_choosing})"
    )
    print(
        f"search() excl. embedding, {args.searches} questions (load average {load_latency}):\n"
        f"  through the replica (choosing included): {ms(searches['replica'])}\n"
        f"  on the primary:                          {ms(searches['primary'])}"
    )
    print(f"under writes ({args.write_s:.0f} s each, a for_search() every 20 ms):")
    for max_lag, row in writes.items():
        print(
            f"  DATABASE_REPLICA_MAX_LAG_MS={max_lag}: replica served {row['served']}/"
            f"{row['total']} ({100 * row['served'] / max(row['total'], 1):.0f} %), choosing "
            f"{ms(row['times'])}; writer {row['wal_mb_s']:.1f} MiB/s of WAL "
            f"(load average {row['load']})"
        )


if __name__ == "__main__":
    main()
