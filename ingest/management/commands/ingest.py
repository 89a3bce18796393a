"""`manage.py ingest PATH [--collection NAME] [--wait]`: a file or a whole folder tree."""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from assistant.lib.schema import ensure_migrated
from ingest import pipeline, tasks
from ingest.models import Collection, Document

SKIPPED_NAMES = {".DS_Store", "Thumbs.db"}


class Command(BaseCommand):
    help = "Ingest a file or every file under a folder into a collection."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--collection", default="Documents")
        parser.add_argument(
            "--public",
            action="store_true",
            help="make a newly created collection readable by everyone",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="do the work in the foreground and return when every document is READY or "
            "FAILED (nothing is queued for a worker)",
        )

    def handle(self, *args, path: str, collection: str, public: bool, wait: bool, **options):
        root = Path(path)
        if not root.exists():
            raise CommandError(f"{path} does not exist.")
        ensure_migrated(self.stdout)
        target, created = Collection.objects.get_or_create(
            name=collection, defaults={"is_public": public}
        )
        if created:
            self.stdout.write(f"Created collection {target.name!r}.")
        files = (
            [root]
            if root.is_file()
            else sorted(
                p
                for p in root.rglob("*")
                if p.is_file() and p.name not in SKIPPED_NAMES and not p.name.startswith(".")
            )
        )
        base = root.parent if root.is_file() else root
        submissions = [
            pipeline.submit(
                collection=target,
                source_path=str(file.relative_to(base)),
                data=file.read_bytes(),
            )
            for file in files
        ]
        skipped = [s for s in submissions if s.skipped]
        unchanged = sum(s.duplicate for s in submissions)
        self.stdout.write(
            f"Submitted {len(files)} files ({unchanged} unchanged, {len(skipped)} skipped: "
            "not documents)."
        )
        ids = [s.document.pk for s in submissions if s.document and not s.duplicate]
        if skipped:
            kinds = Counter(s.skipped for s in skipped)
            self.stdout.write(
                "Skipped, not documents: "
                + ", ".join(f"{n} × {k}" for k, n in sorted(kinds.items()))
            )
        if not wait:
            tasks.queue(submissions)
            self.stdout.write(f"Queued {len(ids)} documents for the worker.")
            return
        seconds = self._work(ids)
        self._summary(ids, unchanged, len(skipped), seconds)

    def _work(self, ids: list[int]) -> float:
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

    def _summary(self, ids: list[int], unchanged: int, skipped: int, seconds: float) -> None:
        documents = Document.objects.filter(pk__in=ids).order_by("source_path")
        ready = [d for d in documents if d.status == Document.Status.READY]
        failed = [d for d in documents if d.status == Document.Status.FAILED]
        chunks = sum(d.chunk_count for d in ready)
        self.stdout.write(
            f"\nReady: {len(ready)} ({chunks} chunks); failed: {len(failed)}; "
            f"unchanged: {unchanged}; skipped: {skipped}; {seconds:.1f} s."
        )
        for document in failed:
            self.stdout.write(
                self.style.ERROR(f"  {document.source_path}: {document.failure_reason}")
            )


def _child(threads: int) -> None:
    """A forked ingest process: its own connections, its cores' share of embedding threads."""
    connections.close_all()
    settings.EMBEDDING_THREADS = threads


def _process(document_id: int) -> None:
    pipeline.process(document_id)
