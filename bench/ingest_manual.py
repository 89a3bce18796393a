"""Ingest the PostgreSQL 15 manual with the local embedders, then again unchanged.

    bench/fetch_corpora.sh && .venv/bin/python bench/ingest_manual.py [--corpus bench/corpora/pg15]

Prints the time to READY (`manage.py ingest --wait`: every document searchable, by keywords and
its main vectors), then the time the background legs take to fill (the English vectors, done
here in the foreground as `ingest --complete` does) and the time to complete; pages (a PDF's
pages, one per other file) and chunks per second; where the time goes (parse, chunk, embed,
write, summed over documents: with several ingest processes the sum exceeds the wall time); the
CPU seconds spent by this process and its ingest processes (the database server's are not
counted), a figure a busy machine moves far less than the wall time; peak memory; and the time
of the unchanged re-run. Runs on a throwaway embedded PostgreSQL, in the foreground, with no
worker (`INGEST_PROCESSES` at a time).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import time
from pathlib import Path

from common import ROOT, ScratchDatabase, stamp


def cpu_seconds() -> float:
    """User and system CPU time of this process and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT / "bench" / "corpora" / "pg15"))
    args = parser.parse_args()
    corpus = Path(args.corpus)
    files = sum(1 for p in corpus.rglob("*") if p.is_file())
    load = [os.getloadavg()[0]]
    with ScratchDatabase():
        from django.conf import settings
        from django.core.management import call_command
        from django.core.management.base import OutputWrapper
        from django.db.models import Sum

        from ingest.management.foreground import Foreground
        from ingest.models import Document

        cpu, started = cpu_seconds(), time.perf_counter()
        call_command("ingest", str(corpus), collection="bench", wait=True, stdout=io.StringIO())
        ready = time.perf_counter() - started
        ready_cpu = cpu_seconds() - cpu
        load.append(os.getloadavg()[0])
        cpu, started = cpu_seconds(), time.perf_counter()
        filled, _ = Foreground(OutputWrapper(io.StringIO())).fill()
        fill = time.perf_counter() - started
        fill_cpu = cpu_seconds() - cpu
        load.append(os.getloadavg()[0])
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
    print(f"load average (1 min) at the start, at READY, at complete: {load}")
    print(f"corpus: {corpus} ({files} files), {settings.INGEST_PROCESSES} ingest processes")
    print(f"READY: {ready:.1f} s for {pages} pages, {chunks} chunks, {failed} failed")
    print(f"  {pages / ready:.1f} pages/s, {chunks / ready:.1f} chunks/s, {ready_cpu:.0f} CPU s")
    accounted = sum(stages.values())
    for stage, seconds in sorted(stages.items(), key=lambda item: -item[1]):
        print(f"  {stage[:-2]:>6}: {seconds:7.1f} s ({chunks / seconds:.0f} chunks/s)")
    print(f"  summed over documents: {accounted:.1f} s")
    print(f"English leg after READY: {filled} passages in {fill:.1f} s, {fill_cpu:.0f} CPU s")
    print(f"complete: {ready + fill:.1f} s")
    print(f"  peak memory: {peak_mib:.0f} MiB here, {child_mib:.0f} MiB in an ingest process")
    print(f"unchanged re-run: {second:.1f} s ({out.getvalue().strip().splitlines()[0]})")


if __name__ == "__main__":
    main()
