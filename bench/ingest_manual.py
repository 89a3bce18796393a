"""Ingest the PostgreSQL 15 manual with the local embedder, then again unchanged.

    bench/fetch_corpora.sh && .venv/bin/python bench/ingest_manual.py [--corpus bench/corpora/pg15]

Prints pages (a PDF's pages, one per other file) and chunks per second, where the time goes
(parse, chunk, embed, write, summed over documents: with several ingest processes the sum
exceeds the wall time), peak memory (this process and the largest ingest process), and the time
of the unchanged re-run. Runs on a throwaway embedded PostgreSQL, in the foreground
(`manage.py ingest --wait` with no worker, `INGEST_PROCESSES` at a time).
"""

from __future__ import annotations

import argparse
import io
import resource
import time
from pathlib import Path

from common import ROOT, ScratchDatabase, stamp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT / "bench" / "corpora" / "pg15"))
    args = parser.parse_args()
    corpus = Path(args.corpus)
    files = sum(1 for p in corpus.rglob("*") if p.is_file())
    with ScratchDatabase():
        from django.conf import settings
        from django.core.management import call_command
        from django.db.models import Sum

        from ingest.models import Document

        started = time.perf_counter()
        call_command("ingest", str(corpus), collection="bench", wait=True, stdout=io.StringIO())
        first = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        documents = Document.objects.filter(status="ready")
        pages = sum(n or 1 for n in documents.values_list("page_count", flat=True))
        chunks = documents.aggregate(total=Sum("chunk_count"))["total"] or 0
        failed = Document.objects.filter(status="failed").count()
        stages: dict[str, float] = {}
        for timings in documents.values_list("timings", flat=True):
            for stage, seconds in timings.items():
                stages[stage] = stages.get(stage, 0.0) + seconds

        started = time.perf_counter()
        out = io.StringIO()
        call_command("ingest", str(corpus), collection="bench", wait=True, stdout=out)
        second = time.perf_counter() - started

    print(f"Ingestion benchmark, {stamp()}")
    print(f"corpus: {corpus} ({files} files), {settings.INGEST_PROCESSES} ingest processes")
    print(f"first run: {first:.1f} s for {pages} pages, {chunks} chunks, {failed} failed")
    print(f"  {pages / first:.1f} pages/s, {chunks / first:.1f} chunks/s")
    accounted = sum(stages.values())
    for stage, seconds in sorted(stages.items(), key=lambda item: -item[1]):
        print(f"  {stage[:-2]:>6}: {seconds:7.1f} s ({100 * seconds / first:.0f}%)")
    print(f"  summed over documents: {accounted:.1f} s")
    print(f"  peak memory: {peak_mib:.0f} MiB here, {child_mib:.0f} MiB in an ingest process")
    print(f"unchanged re-run: {second:.1f} s ({out.getvalue().strip().splitlines()[0]})")


if __name__ == "__main__":
    main()
