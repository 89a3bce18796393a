"""Reviewed answers over the JSON API (staff role): write, list, read, change, delete."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from assistant.audit import log
from assistant.chat.models import ReviewedAnswer
from assistant.chat.reviewed import CannotConfirm, Cited, confirm, save_reviewed
from assistant.lib.api import ApiError, Text, Words
from ingest.models import Collection, Document

router = Router(tags=["reviewed answers"])


class CitedIn(Schema):
    document_id: int
    page: int | None = Field(None, ge=1)


class ReviewedIn(Schema):
    question: Words = Field(min_length=1, max_length=settings.QUESTION_MAX_CHARS)
    answer: Text = Field(min_length=1, max_length=20_000)
    collection_ids: list[int] = Field(min_length=1, max_length=settings.MAX_COLLECTION_IDS)
    variants: list[Text] = Field(default_factory=list, max_length=50)
    citations: list[CitedIn] = Field(default_factory=list, max_length=20)


class ReviewedPatch(Schema):
    question: Words | None = Field(None, min_length=1, max_length=settings.QUESTION_MAX_CHARS)
    answer: Text | None = Field(None, min_length=1, max_length=20_000)
    collection_ids: list[int] | None = Field(
        None, min_length=1, max_length=settings.MAX_COLLECTION_IDS
    )
    variants: list[Text] | None = Field(None, max_length=50)
    citations: list[CitedIn] | None = Field(None, max_length=20)
    needs_review: bool | None = Field(
        None, description="false: confirm a flagged answer against its documents' current versions."
    )


class CitedOut(Schema):
    n: int
    document_id: int | None
    page: int | None
    title: str
    document_version: int


class ReviewedOut(Schema):
    id: int
    question: str
    answer: str
    variants: list[str]
    collection_ids: list[int]
    citations: list[CitedOut]
    needs_review: bool
    review_reason: str
    reviewed_by: str | None
    reviewed_at: datetime
    created_at: datetime

    @staticmethod
    def resolve_collection_ids(reviewed) -> list[int]:
        return [c.pk for c in reviewed.collections.all()]

    @staticmethod
    def resolve_citations(reviewed) -> list:
        return list(reviewed.citations.all())

    @staticmethod
    def resolve_reviewed_by(reviewed) -> str | None:
        return reviewed.reviewed_by.username if reviewed.reviewed_by else None


def _require(request, action: str) -> None:
    if not request.auth.has_perm(f"assistant.{action}_reviewedanswer"):
        raise ApiError(403, "forbidden", _("Only staff may manage reviewed answers."))


def _readable(request):
    ReviewedAnswer.objects.flag_changed()
    return ReviewedAnswer.objects.readable_by(request.auth).prefetch_related(
        "collections", "citations"
    )


def _collections(user, ids: list[int]) -> list[Collection]:
    found = list(Collection.objects.readable_by(user).filter(pk__in=ids))
    if len(found) != len(set(ids)):  # unreadable and missing look the same
        raise ApiError(404, "not_found", _("A collection does not exist or is not yours to read."))
    return found


def _cited(user, citations: list[CitedIn]) -> list[Cited]:
    documents = Document.objects.readable_by(user).filter(status=Document.Status.READY)
    found = documents.in_bulk([c.document_id for c in citations])
    if missing := [c.document_id for c in citations if c.document_id not in found]:
        raise ApiError(
            404,
            "not_found",
            _("Document %(id)s does not exist, is not ready or is not yours to read.")
            % {"id": missing[0]},
        )
    return [Cited(found[c.document_id], c.page) for c in citations]


@router.post("/reviewed-answers", response={201: ReviewedOut})
def create(request, body: ReviewedIn):
    """Write a reviewed answer: served first to questions that mean the same as `question` or
    one of `variants`, to people who may read every collection in `collection_ids` and every
    cited document. `[n]` in `answer` points to `citations[n-1]`."""
    _require(request, "add")
    reviewed = save_reviewed(
        question=body.question,
        answer=body.answer,
        collections=_collections(request.auth, body.collection_ids),
        variants=body.variants,
        cited=_cited(request.auth, body.citations),
        by=request.auth,
    )
    return Status(201, _readable(request).get(pk=reviewed.pk))


@router.get("/reviewed-answers", response=list[ReviewedOut])
def list_reviewed(request, needs_review: bool | None = None):
    """Reviewed answers in collections you may read, newest review first; `needs_review=true`:
    those waiting for review because a cited document changed."""
    _require(request, "view")
    answers = _readable(request)
    if needs_review is not None:
        answers = answers.filter(needs_review=needs_review)
    return answers[:500]


@router.get("/reviewed-answers/{reviewed_id}", response=ReviewedOut)
def get_reviewed(request, reviewed_id: int):
    _require(request, "view")
    return get_object_or_404(_readable(request), pk=reviewed_id)


@router.patch("/reviewed-answers/{reviewed_id}", response=ReviewedOut)
def change(request, reviewed_id: int, body: ReviewedPatch):
    """Change what is given; the rest stays. Any change is a new review, by you, now."""
    _require(request, "change")
    reviewed = get_object_or_404(_readable(request), pk=reviewed_id)
    fields = body.model_dump(exclude_unset=True)
    if set(fields) - {"needs_review"}:
        save_reviewed(
            question=fields.get("question", reviewed.question),
            answer=fields.get("answer", reviewed.answer),
            collections=_collections(request.auth, body.collection_ids)
            if body.collection_ids is not None
            else list(reviewed.collections.all()),
            variants=fields.get("variants", reviewed.variants),
            cited=_cited(request.auth, body.citations)
            if body.citations is not None
            else [Cited(c.document, c.page) for c in reviewed.citations.all() if c.document],
            by=request.auth,
            reviewed=reviewed,
        )
    elif fields.get("needs_review") is False and reviewed.needs_review:
        try:
            confirm(reviewed, by=request.auth)
        except CannotConfirm as refusal:
            raise ApiError(409, "document_gone", str(refusal)) from None
    elif fields.get("needs_review"):
        ReviewedAnswer.objects.filter(pk=reviewed.pk).update(needs_review=True)
    return _readable(request).get(pk=reviewed.pk)


@router.delete("/reviewed-answers/{reviewed_id}", response={204: None})
def delete(request, reviewed_id: int):
    _require(request, "delete")
    reviewed = get_object_or_404(_readable(request), pk=reviewed_id)
    log.record(log.Action.REVIEWED_ANSWER_DELETED, target=reviewed)
    reviewed.delete()
    return Status(204, None)
