"""`manage.py ingest PATH [--collection NAME] [--wait]`: a file or a whole folder tree."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from assistant.lib.schema import ensure_migrated
from ingest import pipeline, tasks
from ingest.management.foreground import Foreground
from ingest.models import Collection, Document
from ingest.sources.folder import list_files


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
        # The same rules as a folder source (ingest.sources.folder).
        files = [root] if root.is_file() else list_files(root)[0]
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
        seconds = Foreground(self.stdout).work(ids)
        self._summary(ids, unchanged, len(skipped), seconds)

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
