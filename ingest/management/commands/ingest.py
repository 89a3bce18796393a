"""`manage.py ingest PATH [--collection NAME] [--wait]`: a file or a whole folder tree."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ingest import pipeline
from ingest.models import Collection, Document

SKIPPED_NAMES = {".DS_Store", "Thumbs.db"}
FINISHED = [Document.Status.READY, Document.Status.FAILED, Document.Status.SUPERSEDED]


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
            help="return when every document is READY or FAILED, working in "
            "the foreground alongside any running worker",
        )

    def handle(self, *args, path: str, collection: str, public: bool, wait: bool, **options):
        root = Path(path)
        if not root.exists():
            raise CommandError(f"{path} does not exist.")
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
                collection=target, source_path=str(file.relative_to(base)), data=file.read_bytes()
            )
            for file in files
        ]
        duplicates = sum(s.duplicate for s in submissions)
        self.stdout.write(f"Submitted {len(files)} files ({duplicates} already ingested).")
        if not wait:
            return
        ids = [s.document.pk for s in submissions if not s.duplicate]
        started = shown = time.monotonic()
        for document_id in ids:
            pipeline.process(document_id)  # a no-op for whatever a worker already took
            if time.monotonic() - shown > 0.5:
                self._progress(ids)
                shown = time.monotonic()
        while not self._progress(ids):
            time.sleep(0.5)
        self._summary(ids, duplicates, time.monotonic() - started)

    def _progress(self, ids: list[int]) -> bool:
        done = Document.objects.filter(pk__in=ids, status__in=FINISHED).count()
        total = max(len(ids), 1)
        bar = "#" * (30 * done // total)
        self.stdout.write(f"\r[{bar:<30}] {done}/{len(ids)} documents", ending="")
        self.stdout.flush()
        return done == len(ids)

    def _summary(self, ids: list[int], duplicates: int, seconds: float) -> None:
        documents = Document.objects.filter(pk__in=ids).order_by("source_path")
        ready = [d for d in documents if d.status == Document.Status.READY]
        failed = [d for d in documents if d.status == Document.Status.FAILED]
        chunks = sum(d.chunk_count for d in ready)
        self.stdout.write(
            f"\nReady: {len(ready)} ({chunks} chunks); failed: {len(failed)}; "
            f"unchanged: {duplicates}; {seconds:.1f} s."
        )
        for document in failed:
            self.stdout.write(
                self.style.ERROR(f"  {document.source_path}: {document.failure_reason}")
            )
