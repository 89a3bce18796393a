"""One pipeline for every way in (admin, API, CLI): submit bytes, then process them.

`submit` stores the file and a QUEUED document (or says which document already has these bytes);
`process` claims the document, parses, chunks and embeds it, then swaps its chunks in one
transaction: the document is READY, and its passages wait for the English leg, which
`ingest.backfill` fills in the background. A worker that dies mid-way leaves no chunks
behind; its lease runs out and `requeue_stale` hands the document to another run.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

import openai
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from assistant.lib import metrics, tracing
from assistant.lib.text import extra_terms
from assistant.llm.calls import embedding_row, ocr_row
from ingest import embedding_space
from ingest.backfill import wants_english
from ingest.chunking import Draft, chunk_blocks, embedding_text
from ingest.embedders import get_embedder
from ingest.formats import IngestError, ParseLimits
from ingest.isolation import parse_isolated
from ingest.models import Chunk, Collection, Document
from ingest.parsers import not_a_document

log = logging.getLogger(__name__)

EMBED_GROUP = 64  # texts per progress report
TRANSIENT = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


class TransientIngestError(Exception):
    """The embedding service failed after retries; the document is queued again."""


@dataclass(frozen=True)
class Submission:
    source_path: str
    document: Document | None = None
    duplicate: bool = False
    skipped: str = ""  # what the file is when it is not a document: "a stylesheet"
    failed: str = ""  # why it could not be stored (nothing was kept)

    @property
    def queued(self) -> bool:
        """A new document waiting for its first run."""
        return (
            self.document is not None
            and not self.duplicate
            and self.document.status == Document.Status.QUEUED
        )

    @property
    def message(self) -> str:
        """For the one who submitted it, in the active language (a failure reason stays in the
        language it was written in)."""
        doc = self.document
        if self.failed:
            return gettext("Not stored: %(reason)s") % {"reason": self.failed}
        if doc is None:
            return gettext("Skipped %(path)s: %(kind)s is not a document.") % {
                "path": self.source_path,
                "kind": self.skipped,
            }
        if self.duplicate and doc.status == Document.Status.FAILED:
            return gettext(
                "Unchanged since it failed as document #%(id)d: %(reason)s Retry it from the "
                "admin once the cause is fixed."
            ) % {"id": doc.pk, "reason": doc.failure_reason}
        if self.duplicate:
            return gettext(
                "Already in %(collection)s as document #%(id)d (%(path)s); nothing new to ingest."
            ) % {"collection": doc.collection.name, "id": doc.pk, "path": doc.source_path}
        if doc.status == Document.Status.FAILED:
            return doc.failure_reason
        if doc.version > 1:
            return gettext("Queued as version %(version)d of %(path)s.") % {
                "version": doc.version,
                "path": doc.source_path,
            }
        return gettext("Queued %(path)s.") % {"path": doc.source_path}


def normalise_source_path(path: str) -> str:
    parts = [
        p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in {"", ".", "..", "/"}
    ]
    return "/".join(parts)[:1000] or "untitled"


def submit(
    *,
    collection: Collection,
    source_path: str,
    data: bytes,
    uploaded_by=None,
    source_item=None,
) -> Submission:
    """Store the file as a QUEUED document (`tasks.queue` hands it to a worker; `process` does
    the work in the foreground). What is not a document is skipped; the same bytes again, even
    ones that failed, are not a new document. `source_item`: the page or file of a source
    (ingest.sources) it came from. The active language is taken as the uploader's: the
    reasons written for them later are in it."""
    source_path = normalise_source_path(source_path)
    if kind := not_a_document(source_path):
        return Submission(source_path, skipped=kind)
    sha256 = hashlib.sha256(data).hexdigest()
    if too_big(len(data)):
        return refuse_oversized(
            collection=collection,
            source_path=source_path,
            size=len(data),
            sha256=sha256,
            uploaded_by=uploaded_by,
        )
    same_bytes = Document.objects.filter(collection=collection, sha256=sha256)
    gone = [Document.Status.FAILED, Document.Status.SUPERSEDED, Document.Status.REMOVED]
    duplicate = (
        same_bytes.exclude(status__in=gone).first()
        or same_bytes.filter(status=Document.Status.FAILED, source_path=source_path).last()
    )
    if duplicate:
        return Submission(source_path, duplicate, duplicate=True)
    live = Document.objects.filter(collection=collection).exclude(status__in=gone)
    previous = live.filter(source_path=source_path).order_by("-version").first()
    try:
        with transaction.atomic():
            document = Document.objects.create(
                collection=collection,
                source_path=source_path,
                title=PurePosixPath(source_path).name,
                sha256=sha256,
                size_bytes=len(data),
                uploaded_by=uploaded_by,
                source_item=source_item,
                language=uploader_language(),
                replaces=previous,
                version=previous.version + 1 if previous else 1,
            )
            document.file.save(sha256, ContentFile(data), save=True)
    except OSError as error:  # the row goes with the transaction: nothing half-stored stays
        log.exception("storing %s failed", source_path)
        reason = error.strerror or str(error)
        return Submission(
            source_path,
            failed=gettext(
                "the file could not be written to the document storage (%(reason)s). Check that "
                "%(folder)s is writable, then upload it again."
            )
            % {"reason": reason, "folder": settings.MEDIA_ROOT},
        )
    return Submission(source_path, document)


def submit_upload(*, collection: Collection, upload, uploaded_by=None) -> Submission:
    """An uploaded file: one that is not a document, or is oversized, is refused before its
    bytes are read."""
    if kind := not_a_document(upload.name):
        return Submission(normalise_source_path(upload.name), skipped=kind)
    if too_big(upload.size):
        return refuse_oversized(
            collection=collection,
            source_path=upload.name,
            size=upload.size,
            uploaded_by=uploaded_by,
        )
    return submit(
        collection=collection, source_path=upload.name, data=upload.read(), uploaded_by=uploaded_by
    )


def too_big(size: int) -> bool:
    return size > settings.UPLOAD_MAX_MB * 2**20


def uploader_language() -> str:
    """The language of the one uploading: the request's (their saved choice, else their
    browser's), or the site's on the command line."""
    return translation.get_language() or settings.LANGUAGE_CODE


def refuse_oversized(
    *, collection: Collection, source_path: str, size: int, sha256: str = "", uploaded_by=None
) -> Submission:
    """Record the refusal, so the admin sees why, without keeping the bytes."""
    source_path = normalise_source_path(source_path)
    document = Document.objects.create(
        collection=collection,
        source_path=source_path,
        title=PurePosixPath(source_path).name,
        sha256=sha256,
        size_bytes=size,
        uploaded_by=uploaded_by,
        language=uploader_language(),
        status=Document.Status.FAILED,
        failure_reason=gettext("The file is %(size).0f MB; the limit is %(limit)d MB.")
        % {"size": size / 2**20, "limit": settings.UPLOAD_MAX_MB},
    )
    return Submission(source_path, document)


def process(document_id: int) -> Document:
    """Run the pipeline once for a document; a no-op when another run holds or finished it."""
    document = Document.objects.get(pk=document_id)
    # A worker has no reader: the reason it stores is for the uploader, in their language (the
    # parser's child process, forked inside this block, writes in it too).
    with translation.override(document.language or settings.LANGUAGE_CODE):
        return _process(document)


def _process(document: Document) -> Document:
    lease_s = settings.INGEST_LEASE_S
    claim = document.claim_for_processing(lease_s=lease_s)
    if claim is None:
        return document
    try:
        with _lease_kept(document, claim, lease_s):
            _run(document, claim, lease_s)
    except IngestError as error:
        document.mark_failed(str(error), claim=claim)
    except TRANSIENT as error:
        Document.objects.filter(pk=document.pk, claim=claim).queue_again(
            stage=Document.Stage.WAITING
        )
        raise TransientIngestError(str(error)) from error
    except _LostClaim:
        log.warning("document %s was taken over by another run", document.pk)
    except Exception as error:
        log.exception("ingesting document %s failed", document.pk)
        document.mark_failed(
            gettext(
                "Unexpected error while ingesting (%(error)s). Retry it; if it fails again, "
                "report it with this message."
            )
            % {"error": f"{type(error).__name__}: {error}"},
            claim=claim,
        )
    document.refresh_from_db()
    metrics.INGESTED.labels(document.status).inc()
    return document


class _LostClaim(Exception):
    pass


@contextlib.contextmanager
def _lease_kept(document: Document, claim: uuid.UUID, lease_s: int) -> Iterator[None]:
    """While the run works, a thread renews its lease every third of it, so the lease says that
    this worker lives however long one step (a batch of passages, the final write) takes on a
    busy machine; a worker that dies stops renewing, and the sweeper hands the document on. The
    run's own progress reports still find out when the claim was lost."""
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(lease_s / 3):
                document.report(claim, lease_s=lease_s)
        finally:
            connection.close()  # this thread's own connection

    keeper = threading.Thread(target=renew, name=f"lease-{document.pk}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()


def _run(document: Document, claim: uuid.UUID, lease_s: int) -> None:
    def report(**progress) -> None:
        if not document.report(claim, lease_s=lease_s, **progress):
            raise _LostClaim

    if not document.file:
        raise IngestError(gettext("The file's bytes were not kept; upload it again."))
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(timings.get(stage, 0.0) + now - clock, 4)
        began_ns = time.time_ns() - int((now - clock) * 1e9)
        name = f"ingest.{stage.removesuffix('_s')}"
        tracing.finished(name, began_ns, **{"assistant.document_id": document.pk})
        clock = now

    with document.file.open("rb") as handle:
        data = handle.read()
    parsed = parse_isolated(
        data,
        document.source_path,
        limits=ParseLimits.from_settings(),
        max_memory_mb=settings.PARSE_MAX_MEMORY_MB,
        max_seconds=settings.PARSE_MAX_SECONDS,
        heartbeat=report,  # a long OCR run keeps its lease
        heartbeat_every_s=lease_s / 3,
    )
    document.ocr_pages = parsed.ocr_pages
    if parsed.ocr is not None and parsed.ocr.model:
        ocr_row(document.uploaded_by, parsed.ocr.model, parsed.ocr.usage, parsed.ocr.seconds).save()
    lap("parse_s")
    document.title = parsed.title[:500]
    report(
        stage=Document.Stage.PARSED,
        progress=10,
        parsed_blocks=len(parsed.blocks),
        page_count=parsed.page_count,
        title=document.title,
        media_type=parsed.media_type,
        ocr_pages=document.ocr_pages,
    )
    embedder = get_embedder()
    drafts = chunk_blocks(
        parsed.blocks,
        target_tokens=settings.CHUNK_TARGET_TOKENS,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
        max_tokens=embedder.max_input_tokens,
    )
    lap("chunk_s")
    report(stage=Document.Stage.CHUNKED, progress=20, chunk_count=len(drafts))
    if not embedding_space.matches(embedder):
        raise IngestError(embedding_space.mismatch_message(embedder))
    texts = [embedding_text(document.title, draft) for draft in drafts]
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBED_GROUP):
        clock = time.perf_counter()
        vectors.extend(embedder.embed(texts[start : start + EMBED_GROUP]))
        lap("embed_s")
        report(
            stage=Document.Stage.EMBEDDING,
            embedded_count=len(vectors),
            progress=20 + int(75 * len(vectors) / max(len(texts), 1)),
        )
    if texts:  # the calls happened (and may have cost money) whatever follows
        embedding_row(document.uploaded_by, texts, timings.get("embed_s", 0) * 1000).save()
    clock = time.perf_counter()
    _swap_chunks(document, claim, drafts, vectors, [wants_english(text) for text in texts])
    lap("write_s")
    Document.objects.filter(pk=document.pk).update(timings=timings)
    metrics.ingest_stages(timings)


def _swap_chunks(
    document: Document,
    claim: uuid.UUID,
    drafts: list[Draft],
    vectors: list[list[float]],
    english_pending: list[bool],
) -> None:
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.claim != claim or locked.status != Document.Status.PROCESSING:
            raise _LostClaim
        Chunk.objects.filter(document=locked).delete()
        if embedding_space.recorded() is None:
            embedding_space.record(get_embedder())
        Chunk.objects.bulk_create(
            [
                Chunk(
                    document=locked,
                    collection_id=locked.collection_id,
                    ordinal=ordinal,
                    text=draft.text,
                    heading_path=draft.heading_path[:1000],
                    page_start=draft.page_start,
                    page_end=draft.page_end,
                    token_count=draft.token_count,
                    search_extra=extra_terms(f"{draft.heading_path} {draft.text}"),
                    embedding=vector,
                    embedding_en_pending=pending,
                )
                for ordinal, (draft, vector, pending) in enumerate(
                    zip(drafts, vectors, english_pending, strict=True)
                )
            ],
            batch_size=500,
        )
        Document.objects.filter(pk=locked.pk).update(
            status=Document.Status.READY,
            stage=Document.Stage.NONE,
            progress=100,
            claim=None,
            lease_expires_at=None,
            ready_at=timezone.now(),
            chunk_count=len(drafts),
            embedded_count=len(vectors),
        )
        # The new version replaces every older one at this path, atomically with its chunks.
        older = Document.objects.filter(
            collection_id=locked.collection_id,
            source_path=locked.source_path,
            version__lt=locked.version,
        ).exclude(status=Document.Status.SUPERSEDED)
        Chunk.objects.filter(document__in=older).delete()
        older.exclude(status=Document.Status.PROCESSING).update(
            status=Document.Status.SUPERSEDED, stage=Document.Stage.NONE
        )


def requeue_stale() -> list[int]:
    """Queue again the documents whose worker died (their lease ran out mid-run), and the
    QUEUED ones no task has taken for a while (a request that died between storing a file and
    queueing it): their ids, for `tasks` to hand to a worker. A duplicate task is harmless: the
    claim lets one run through."""
    waited = timezone.now() - timedelta(seconds=settings.INGEST_QUEUED_STALE_S)
    ids = []
    for document_id in Document.objects.filter(
        status=Document.Status.QUEUED, updated_at__lt=waited
    ).values_list("pk", flat=True):
        # Touching the row restarts its wait: the next sweeps leave it to this task.
        if Document.objects.filter(
            pk=document_id, status=Document.Status.QUEUED, updated_at__lt=waited
        ).update(updated_at=timezone.now()):
            ids.append(document_id)
    for document_id in Document.objects.filter(
        status=Document.Status.PROCESSING, lease_expires_at__lt=timezone.now()
    ).values_list("pk", flat=True):
        # Conditional, so a sweep racing another sweep (or a slow worker) queues it once.
        if Document.objects.filter(
            pk=document_id, status=Document.Status.PROCESSING, lease_expires_at__lt=timezone.now()
        ).queue_again(stage=Document.Stage.REQUEUED):
            ids.append(document_id)
    return ids
