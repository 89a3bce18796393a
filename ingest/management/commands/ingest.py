"""`manage.py ingest PATH [--collection NAME] [--wait | --complete]`: a file or a whole folder
tree. `--wait` returns once the documents are READY (searchable) and says what the background
legs (the English vectors) still have to do; `--complete` does that too before returning."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from assistant.lib.schema import ensure_migrated
from ingest import backfill, pipeline, tasks
from ingest.management.foreground import Foreground
from ingest.models import Chunk, Collection, Document
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
            "FAILED (nothing is queued for a worker but the background legs)",
        )
        parser.add_argument(
            "--complete",
            action="store_true",
            help="like --wait, then fill the background legs in the foreground too and return "
            "when no passage waits for them",
        )

    def handle(
        self, *args, path: str, collection: str, public: bool, wait: bool, complete: bool, **options
    ):
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
        if not (wait or complete):
            tasks.queue(submissions)
            self.stdout.write(f"Queued {len(ids)} documents for the worker.")
            return
        foreground = Foreground(self.stdout)
        seconds = foreground.work(ids)
        self._summary(ids, unchanged, len(skipped), seconds)
        if complete:
            filled, seconds = foreground.fill()
            self.stdout.write(f"English leg: filled {filled} passages, {seconds:.1f} s.")
        self._background(ids)

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

    def _background(self, ids: list[int]) -> None:
        """What the background legs still have to do, these documents' share first; a worker
        (the `backfill` queue) is asked to do it."""
        left = backfill.waiting()
        if not left:
            self.stdout.write("Complete: no passage waits for a background leg.")
            return
        ours = backfill.waiting(Chunk.objects.filter(document_id__in=ids))
        self.stdout.write(
            f"Background: {left} passages wait for the English leg ({ours} of these documents); "
            "a worker fills them (`make run` starts one), or run again with --complete."
        )
        tasks.fill_background_legs.delay()
