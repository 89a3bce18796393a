from __future__ import annotations

import random

from celery import shared_task

from ingest import pipeline


@shared_task(bind=True, acks_late=True, max_retries=6)
def ingest_document(self, document_id: int) -> str:
    try:
        return pipeline.process(document_id).status
    except pipeline.TransientIngestError as error:
        raise self.retry(
            exc=error, countdown=min(300, 5 * 2**self.request.retries) + random.uniform(0, 3)
        ) from error


@shared_task
def requeue_stale_documents() -> list[int]:
    return pipeline.requeue_stale()
