"""Reviewed answers: written (or corrected) by staff once, served first to every question that
means the same, within the reader's collections, until a cited document changes.

A question matches by meaning: the deployment's embedder (multilingual, so an English review
answers a Chinese question) compares it with the reviewed question and its variants; the best
phrasing must reach REVIEWED_ANSWER_MIN_SIMILARITY (calibrated in bench/reviewed_answers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from assistant.audit import log
from assistant.chat.models import Message, ReviewedAnswer, ReviewedCitation
from assistant.llm.calls import embedding_row
from ingest.embedders import get_embedder
from ingest.models import Chunk, Collection, Document
from ingest.search.retrieval import Hit


class CannotConfirm(Exception):
    """A cited document is gone for good: the citations must be edited first."""


@dataclass(frozen=True)
class Cited:
    document: Document
    page: int | None = None


def save_reviewed(
    *,
    question: str,
    answer: str,
    collections: list[Collection],
    variants: list[str],
    cited: list[Cited],
    by,
    source_message: Message | None = None,
    reviewed: ReviewedAnswer | None = None,
) -> ReviewedAnswer:
    """Create (or, given `reviewed`, replace the contents of) a reviewed answer, as reviewed now
    by `by` against the cited documents' current versions."""
    created = reviewed is None
    reviewed = reviewed or ReviewedAnswer(source_message=source_message)
    before = {name: getattr(reviewed, name) for name in AUDITED_FIELDS}
    reviewed.question = question.strip()
    reviewed.answer = answer.strip()
    reviewed.variants = [v.strip() for v in variants if v.strip()]
    reviewed.reviewed_by, reviewed.reviewed_at = by, timezone.now()
    reviewed.needs_review, reviewed.review_reason = False, ""
    embed_phrasings(reviewed)
    with transaction.atomic():
        reviewed.save()
        reviewed.collections.set(collections)
        reviewed.citations.all().delete()
        ReviewedCitation.objects.bulk_create(
            ReviewedCitation(
                reviewed_answer=reviewed,
                n=n,
                document=c.document,
                document_version=c.document.version,
                page=c.page,
                title=c.document.title or c.document.source_path,
            )
            for n, c in enumerate(cited, start=1)
        )
        changes = {
            name: [None if created else before[name], getattr(reviewed, name)]
            for name in AUDITED_FIELDS
            if created or before[name] != getattr(reviewed, name)
        }
        action = (
            log.Action.REVIEWED_ANSWER_CREATED if created else log.Action.REVIEWED_ANSWER_CHANGED
        )
        log.record(action, actor=by, target=reviewed, changes=changes)
    return reviewed


# What an audit entry keeps of a reviewed answer's change, before and after.
AUDITED_FIELDS = ("question", "answer", "variants")


def embed_phrasings(reviewed: ReviewedAnswer) -> None:
    """One vector per phrasing (the question, then each variant), unsaved."""
    embedder = get_embedder()
    reviewed.vectors = embedder.embed(reviewed.phrasings)
    reviewed.embedder = embedder.model


def confirm(reviewed: ReviewedAnswer, *, by) -> None:
    """Someone checked a flagged answer against its documents: its citations now point to their
    current versions, and it is served again. CannotConfirm when a document is gone for good."""
    with transaction.atomic():
        for citation in reviewed.citations.select_related("document"):
            current = _current_version(citation.document)
            if current is None:
                raise CannotConfirm(
                    _("“%(title)s” is gone: edit the citations first.") % {"title": citation.title}
                )
            citation.document, citation.document_version = current, current.version
            citation.save(update_fields=["document", "document_version"])
        reviewed.needs_review, reviewed.review_reason = False, ""
        reviewed.reviewed_by, reviewed.reviewed_at = by, timezone.now()
        reviewed.save(update_fields=["needs_review", "review_reason", "reviewed_by", "reviewed_at"])
        log.record(log.Action.REVIEWED_ANSWER_CONFIRMED, actor=by, target=reviewed)


def _current_version(document: Document | None) -> Document | None:
    if document is None:
        return None
    return (
        Document.objects.filter(
            collection_id=document.collection_id,
            source_path=document.source_path,
            status=Document.Status.READY,
        )
        .order_by("-version")
        .first()
    )


def match(
    user, question: str, *, collection_ids: list[int] | None, message=None, calls=None
) -> ReviewedAnswer | None:
    """The reviewed answer that means the same as `question` and `user` may read (inside
    `collection_ids` when the question is asked in some collections only), or None. The
    question's embedding call is added to `calls` (recorded with the answer)."""
    ReviewedAnswer.objects.flag_changed()
    candidates = ReviewedAnswer.objects.servable().readable_by(user).prefetch_related("citations")
    if collection_ids is not None:
        candidates = candidates.exclude(
            collections__in=Collection.objects.exclude(pk__in=collection_ids)
        )
    candidates = [c for c in candidates if all(_readable(user, x) for x in c.citations.all())]
    if not candidates:
        return None
    embedder = get_embedder()
    started = timezone.now()
    vector = np.asarray(embedder.embed([question])[0])
    elapsed_ms = (timezone.now() - started).total_seconds() * 1000
    if calls is not None:
        calls.append(embedding_row(user, [question], elapsed_ms, message=message))
    best, best_similarity = None, settings.REVIEWED_ANSWER_MIN_SIMILARITY
    for candidate in candidates:
        if candidate.embedder != embedder.model:  # the embedding space changed since
            embed_phrasings(candidate)
            candidate.save(update_fields=["vectors", "embedder"])
        similarity = max(_cosine(vector, np.asarray(v)) for v in candidate.vectors)
        if similarity >= best_similarity:
            best, best_similarity = candidate, similarity
    return best


def _readable(user, citation: ReviewedCitation) -> bool:
    document = citation.document
    return (
        document is not None
        and Collection.objects.readable_by(user).filter(pk=document.collection_id).exists()
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b)) or 1.0
    return float(a @ b) / norms


def as_hits(reviewed: ReviewedAnswer) -> list[Hit]:
    """The reviewed citations as passages: each the document's chunk on the cited page (its
    first chunk when no page is given), so the answer's [n] links open the right place."""
    hits = []
    for citation in reviewed.citations.select_related("document"):
        chunks = Chunk.objects.filter(document=citation.document).order_by("ordinal")
        if citation.page is not None:
            chunks = chunks.filter(page_start__lte=citation.page, page_end__gte=citation.page)
        chunk = chunks.first() or Chunk.objects.filter(document=citation.document).first()
        if chunk is None:
            continue
        hits.append(
            Hit(
                chunk_id=chunk.pk,
                document_id=chunk.document_id,
                ordinal=chunk.ordinal,
                title=citation.title,
                source_path=citation.document.source_path,
                heading_path=chunk.heading_path,
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                text=chunk.text,
                token_count=chunk.token_count,
            )
        )
    return hits
