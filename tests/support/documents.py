from __future__ import annotations

from ingest import pipeline
from ingest.models import Collection, Document


def ingest_text(collection: Collection, name: str, text: str) -> Document:
    """Submit and process in this process (the worker tests run the same pipeline in a worker)."""
    submission = pipeline.submit(collection=collection, source_path=name, data=text.encode())
    document = pipeline.process(submission.document.pk)
    assert document.status == Document.Status.READY, document.failure_reason
    return document
