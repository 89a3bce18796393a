"""Ingestion in a worker: each task takes ids, calls the pipeline, returns."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from celery import shared_task
from django.conf import settings

from assistant.audit import log as audit
from assistant.lib.backoff import backoff_s
from ingest import backfill, pipeline
from ingest.models import Chunk
from ingest.sources import syncing

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=6)
def ingest_document(self, document_id: int) -> str:
    try:
        status = pipeline.process(document_id).status
        log.info("document %s ingested: %s", document_id, status)
        if backfill.waiting(Chunk.objects.filter(document_id=document_id)):
            fill_background_legs.delay()
        return status
    except pipeline.TransientIngestError as error:
        raise self.retry(
            exc=error, countdown=min(300, backoff_s(self.request.retries, base=5))
        ) from error


@shared_task(acks_late=True)
def fill_background_legs() -> int:
    """Fill the passages waiting for the English leg (on the `backfill` queue, see settings),
    for at most half the task time limit, then hand the rest to a new task. Beat queues one
    every INGEST_SWEEP_S, so a filler that died is followed by another; one that finds nothing
    waiting ends at once."""
    until = time.monotonic() + settings.CELERY_TASK_TIME_LIMIT / 2
    filled = backfill.fill(until=until)
    if time.monotonic() >= until:
        fill_background_legs.delay()
    return filled


@shared_task
def requeue_stale_documents() -> list[int]:
    ids = pipeline.requeue_stale()
    for document_id in ids:
        ingest_document.delay(document_id)
    return ids


@shared_task(acks_late=True)
def sync_source(source_id: int) -> str:
    """Sync one source; its new documents go to the ingestion queue as they are stored."""
    record = syncing.sync(source_id, queue=ingest_document.delay_on_commit)
    return record.status if record else "already syncing"


@shared_task
def sync_due_sources() -> list[int]:
    """Beat's sweep: the sources whose time has come, and those whose sync died, queued."""
    ids = syncing.resume_and_due()
    for source_id in ids:
        sync_source.delay(source_id)
    return ids


def submit_each(uploads, *, collection, uploaded_by) -> list[pipeline.Submission]:
    """Store and queue uploaded files one at a time: a file that fails leaves the others
    stored and queued, and says why."""
    submissions = []
    for upload in uploads:
        submission = pipeline.submit_upload(
            collection=collection, upload=upload, uploaded_by=uploaded_by
        )
        queue([submission])
        if submission.document:
            details = {"file": submission.source_path, "duplicate": submission.duplicate}
            audit.record(
                audit.Action.DOCUMENT_UPLOADED,
                actor=uploaded_by,
                target=submission.document,
                changes=details,
            )
        submissions.append(submission)
    return submissions


def queue(submissions: Iterable[pipeline.Submission]) -> None:
    """Hand the new documents among `submissions` to a worker, once their rows are committed."""
    for submission in submissions:
        if submission.queued:
            ingest_document.delay_on_commit(submission.document.pk)
