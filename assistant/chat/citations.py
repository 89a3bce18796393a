"""The passages an answer was written from, stored with it: what its numbers point to, quoted as
they were, so the answer keeps its sources when a document changes or goes."""

from __future__ import annotations

from assistant.chat.models import Citation, Message
from ingest.models import Document
from ingest.search.retrieval import Hit


def save_citations(message: Message, hits: list[Hit], used: set[int]) -> None:
    """Passage n of `hits` is citation n; it counts as used when the answer cites it (or when
    the answer cites none: then every passage shown stands behind it)."""
    versions = dict(
        Document.objects.filter(pk__in={h.document_id for h in hits}).values_list("pk", "version")
    )
    Citation.objects.filter(message=message).delete()
    Citation.objects.bulk_create(
        Citation(
            message=message,
            n=n,
            chunk_id=hit.chunk_id,
            document_id=hit.document_id,
            document_version=versions.get(hit.document_id, 1),
            title=hit.title,
            source_path=hit.source_path,
            heading_path=hit.heading_path,
            pages=hit.pages,
            quote=hit.text[:2000],
            used=n in used or not used,
        )
        for n, hit in enumerate(hits, start=1)
    )
