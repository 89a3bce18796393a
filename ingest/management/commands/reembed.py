"""`manage.py reembed [--english-only]`: move every chunk into the configured embedder's vector
space, and give the English leg's vector (`EMBEDDING_EN`) to every chunk that lacks one;
`--english-only` leaves the main vectors as they are (after an upgrade that brought the English
leg). The English vectors are filled as the background does it (ingest.backfill), here in the
foreground."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from assistant.lib.schema import ensure_migrated
from ingest import embedding_space
from ingest.backfill import wants_english
from ingest.chunking import Draft, embedding_text
from ingest.embedders import get_embedder
from ingest.embedding_space import vector_literal
from ingest.management.foreground import Foreground
from ingest.models import Chunk

BATCH = 256


class Command(BaseCommand):
    help = "Re-embed every chunk with the configured embedders (after changing them)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--english-only",
            action="store_true",
            help="only compute the English leg's vectors; keep the main ones",
        )

    def handle(self, *args, english_only: bool, **options):
        ensure_migrated(self.stdout)
        embedder = get_embedder()
        started = time.monotonic()
        if not english_only:
            # Vectors from two models never share the column: empty it first. Until a chunk is
            # re-embedded it has no vector, so it is found by keywords only.
            with transaction.atomic():
                embedding_space.reset_column(embedder.dimensions)
                embedding_space.record(embedder)
        ids = list(Chunk.objects.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), BATCH):
            chunks = list(
                Chunk.objects.filter(pk__in=ids[start : start + BATCH])
                .select_related("document")
                .defer("embedding", "embedding_en")
            )
            texts = [
                embedding_text(c.document.title, Draft(c.text, c.heading_path, None, None, 0))
                for c in chunks
            ]
            wanted = [c.pk for c, text in zip(chunks, texts, strict=True) if wants_english(text)]
            Chunk.objects.filter(pk__in=wanted, embedding_en__isnull=True).update(
                embedding_en_pending=True
            )
            if not english_only:
                with connection.cursor() as cursor:
                    # Raw SQL: the model field still names the old width until the next start.
                    cursor.executemany(
                        "UPDATE ingest_chunk SET embedding = %s::vector WHERE id = %s",
                        [
                            (vector_literal(v), c.pk)
                            for c, v in zip(chunks, embedder.embed(texts), strict=True)
                        ],
                    )
            done = min(start + BATCH, len(ids))
            self.stdout.write(f"\rRe-embedded {done}/{len(ids)} chunks", ending="")
            self.stdout.flush()
        if not english_only:
            embedding_space.rebuild_index()
        self.stdout.write("")
        filled, _ = Foreground(self.stdout).fill()
        self.stdout.write(
            f"\nDone: {len(ids)} chunks now in {embedder.model} ({embedder.dimensions} dims), "
            f"{filled} given English vectors, {time.monotonic() - started:.1f} s."
        )
