"""Ingestion in the foreground for the commands (`ingest --wait`, `sources sync --wait`): one
document per core at a time, with a progress bar; what is left when interrupted goes to a
worker. `fill` does the background legs' work in the foreground too (`ingest --complete`,
`reembed`)."""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context

from django.conf import settings
from django.db import connections

from ingest import backfill, pipeline, tasks
from ingest.models import Document


class Foreground:
    def __init__(self, stdout) -> None:
        self.stdout = stdout

    def work(self, ids: list[int]) -> float:
        """Process in the foreground, one document per core at a time (INGEST_PROCESSES); the
        seconds it took."""
        started = time.monotonic()
        processes = min(settings.INGEST_PROCESSES, len(ids))
        try:
            if processes <= 1:
                for document_id in ids:
                    pipeline.process(document_id)
                    self._progress(ids, every=0.5)
            else:
                self._in_parallel(ids, processes)
            self._progress(ids)
        finally:
            # Interrupted: what the foreground did not start goes to a worker instead.
            for document_id in Document.objects.filter(
                pk__in=ids, status=Document.Status.QUEUED
            ).values_list("pk", flat=True):
                tasks.ingest_document.delay(document_id)
        return time.monotonic() - started

    def _in_parallel(self, ids: list[int], processes: int) -> None:
        # Forked children share nothing open: the parent's connections are closed first, and it
        # has loaded no model (submitting does not embed).
        connections.close_all()
        threads = max(1, (os.cpu_count() or 1) // processes)
        with ProcessPoolExecutor(
            processes, mp_context=get_context("fork"), initializer=_child, initargs=(threads,)
        ) as pool:
            pending = {pool.submit(_process, document_id) for document_id in ids}
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()  # a crash in a child is not lost
                    self._progress(ids, every=0.5)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    def fill(self) -> tuple[int, float]:
        """Fill what the background legs still wait for, one process per core as for documents
        (a small backlog in this one), sharing the work with any worker doing the same; how many
        passages it filled, and the seconds it took."""
        started = time.monotonic()
        total = backfill.waiting()
        processes = min(settings.INGEST_PROCESSES, total // settings.BACKFILL_BATCH)
        if processes <= 1:
            filled = backfill.fill(progress=lambda n: self._waiting(total, total - n))
        else:
            filled = self._fill_in_parallel(total, processes)
        if total:
            self.stdout.write("")
        return filled, time.monotonic() - started

    def _fill_in_parallel(self, total: int, processes: int) -> int:
        connections.close_all()  # as for documents: the children open their own
        threads = max(1, (os.cpu_count() or 1) // processes)
        filled = 0
        with ProcessPoolExecutor(
            processes, mp_context=get_context("fork"), initializer=_child, initargs=(threads,)
        ) as pool:
            pending = {pool.submit(backfill.fill) for _ in range(processes)}
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                filled += sum(future.result() for future in done)
                self._waiting(total, backfill.waiting())
        return filled

    def _waiting(self, total: int, left: int) -> None:
        bar = "#" * (30 * (total - min(left, total)) // max(total, 1))
        self.stdout.write(f"\r[{bar:<30}] {left} passages wait for the English leg", ending="")
        self.stdout.flush()

    _shown = 0.0

    def _progress(self, ids: list[int], every: float = 0.0) -> None:
        if time.monotonic() - self._shown < every:
            return
        self._shown = time.monotonic()
        done = (
            Document.objects.filter(pk__in=ids)
            .exclude(status__in=[Document.Status.QUEUED, Document.Status.PROCESSING])
            .count()
        )
        total = max(len(ids), 1)
        bar = "#" * (30 * done // total)
        self.stdout.write(f"\r[{bar:<30}] {done}/{len(ids)} documents", ending="")
        self.stdout.flush()


def _child(threads: int) -> None:
    """A forked ingest process: its own connections, its cores' share of embedding threads."""
    connections.close_all()
    settings.EMBEDDING_THREADS = threads


def _process(document_id: int) -> None:
    pipeline.process(document_id)
