from __future__ import annotations

from datetime import datetime

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from ninja import Field, File, Router, Schema, Status
from ninja.files import UploadedFile

from assistant.lib.api import ApiError
from ingest import tasks
from ingest.models import Collection, Document

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
    document.delete()
    return Status(204, None)
