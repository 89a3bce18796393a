from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from ninja import Field, File, Router, Schema, Status
from ninja.files import UploadedFile

from assistant.audit import log
from assistant.lib.api import ApiError
from assistant.lib.durations import format_every, parse_every
from ingest import tasks
from ingest.models import Collection, Document, Source
from ingest.sources import syncing

router = Router(tags=["documents"])


class CollectionOut(Schema):
    id: int
    name: str
    description: str
    language: str
    is_public: bool


class DocumentOut(Schema):
    id: int
    collection_id: int
    title: str
    source_path: str
    media_type: str
    status: str
    stage: str
    progress: int
    version: int
    chunk_count: int
    embedded_count: int
    page_count: int | None
    size_bytes: int
    failure_reason: str
    created_at: datetime
    updated_at: datetime


class SubmissionOut(Schema):
    duplicate: bool
    skipped: bool
    failed: bool = Field(False, description="Not stored (the message says why); nothing kept.")
    message: str
    document: DocumentOut | None


@router.get("/collections", response=list[CollectionOut])
def list_collections(request):
    """The collections you may read."""
    return Collection.objects.readable_by(request.auth)


def _require(request, permission: str) -> None:
    if not request.auth.has_perm(permission):
        raise ApiError(
            403, "forbidden", gettext("Your account may not change documents; ask an admin.")
        )


@router.post(
    "/collections/{collection_id}/documents",
    response={202: list[SubmissionOut]},
    summary="Upload documents",
)
def upload_documents(request, collection_id: int, files: list[UploadedFile] = File(...)):
    """Queue one or more files for ingestion; follow each with GET /documents/{id}.

    A file with the same bytes as a document already in the collection is not ingested again
    (`duplicate: true` names that document); a changed file with the same name becomes its
    next version. Screenshots, photos and scans (PNG, JPEG, TIFF, WebP) are documents whose text
    is read by OCR; stylesheets, scripts, fonts, icons and drawings (GIF, SVG, ICO, BMP) are not:
    `skipped: true`, with no document.
    """
    collection = get_object_or_404(Collection.objects.readable_by(request.auth), pk=collection_id)
    _require(request, "ingest.add_document")
    submissions = tasks.submit_each(files, collection=collection, uploaded_by=request.auth)
    return Status(
        202,
        [
            {
                "duplicate": s.duplicate,
                "skipped": bool(s.skipped),
                "failed": bool(s.failed),
                "message": s.message,
                "document": s.document,
            }
            for s in submissions
        ],
    )


@router.get("/documents/{document_id}", response=DocumentOut)
def get_document(request, document_id: int):
    """A document's ingestion status, progress and failure reason."""
    return get_object_or_404(Document.objects.readable_by(request.auth), pk=document_id)


@router.delete("/documents/{document_id}", response={204: None})
def delete_document(request, document_id: int):
    """Delete a document and its passages."""
    document = get_object_or_404(Document.objects.readable_by(request.auth), pk=document_id)
    _require(request, "ingest.delete_document")
    log.record(log.Action.DOCUMENT_DELETED, target=document)
    document.delete()
    return Status(204, None)


class SourceFailureOut(Schema):
    key: str
    reason: str


class SourceSyncOut(Schema):
    id: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    seen: int
    added: int
    changed: int
    unchanged: int
    removed: int
    failed: int
    skipped: int
    complete: bool
    failure_reason: str
    failures: list[SourceFailureOut] = Field(
        default_factory=list, description="The pages or files this sync could not read, and why."
    )

    @staticmethod
    def resolve_failures(record) -> list[dict]:
        return [{"key": item.key, "reason": item.reason} for item in record.failures[:500]]


class SourceOut(Schema):
    id: int
    name: str
    kind: str
    collection_id: int
    start_urls: list[str]
    sitemap_url: str
    path: str
    max_pages: int
    every: str
    enabled: bool
    next_sync_at: datetime | None
    syncing: bool
    last_sync: SourceSyncOut | None

    @staticmethod
    def resolve_every(source) -> str:
        return format_every(source.every)

    @staticmethod
    def resolve_syncing(source) -> bool:
        return source.is_syncing


class SourceIn(Schema):
    kind: Source.Kind
    collection_id: int
    url: str = Field("", description="A website's start URL.")
    sitemap_url: str = ""
    path: str = Field("", description="A folder's absolute path on the server.")
    name: str = ""
    max_pages: int | None = Field(None, ge=1)
    every: str = Field("1d", description="How often to sync: 1d, 12h, 30m, 1h30m.")


def _require_sources(request, permission: str) -> None:
    if not request.auth.has_perm(permission):
        raise ApiError(403, "forbidden", gettext("Only admins may see, add or sync sources."))


@router.get("/sources", response=list[SourceOut], tags=["sources"])
def list_sources(request):
    """Websites and folders synced on a schedule, each with its last sync (admin role)."""
    _require_sources(request, "ingest.view_source")
    return Source.objects.all()


@router.post("/sources", response={201: SourceOut}, tags=["sources"])
def create_source(request, payload: SourceIn):
    """Follow a website (`url` and/or `sitemap_url`) or a folder (`path`); it syncs at once
    and then every `every` (admin role)."""
    _require_sources(request, "ingest.add_source")
    collection = get_object_or_404(Collection, pk=payload.collection_id)
    try:
        every = parse_every(payload.every)
        source = syncing.add_source(
            kind=payload.kind,
            location=payload.url if payload.kind == Source.Kind.WEBSITE else payload.path,
            collection=collection,
            name=payload.name,
            sitemap_url=payload.sitemap_url,
            max_pages=payload.max_pages,
            every=every,
            created_by=request.auth,
        )
    except (ValueError, ValidationError) as error:
        messages = getattr(error, "messages", [str(error)])
        raise ApiError(422, "invalid_source", " ".join(messages)) from None
    tasks.sync_source.delay_on_commit(source.pk)
    log.record(log.Action.SOURCE_CREATED, target=source, changes={"location": source.location})
    return Status(201, source)


@router.post("/sources/{source_id}/sync", response={202: dict}, tags=["sources"])
def sync_source(request, source_id: int):
    """Sync a source now, in a worker; follow it with GET /sources/{id}/sync (admin role)."""
    _require_sources(request, "ingest.change_source")
    source = get_object_or_404(Source, pk=source_id)
    tasks.sync_source.delay_on_commit(source.pk)
    log.record(log.Action.SOURCE_SYNCED, target=source)
    return Status(202, {"queued": True, "syncing_already": source.is_syncing})


@router.get("/sources/{source_id}/sync", response=SourceSyncOut, tags=["sources"])
def last_sync(request, source_id: int):
    """A source's last sync: when, what it found, and what it could not read (admin role)."""
    _require_sources(request, "ingest.view_source")
    source = get_object_or_404(Source, pk=source_id)
    record = source.last_sync
    if record is None:
        raise ApiError(404, "never_synced", gettext("This source has not been synced yet."))
    return record
