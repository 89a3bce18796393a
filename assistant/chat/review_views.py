"""The review queue's pages (staff): the queue, writing a reviewed answer from an answer (or
from a search result, or editing one), resolving an answer otherwise, confirming a flagged
reviewed answer, and the queue as CSV."""

from __future__ import annotations

import csv
from itertools import chain

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from assistant.chat import review_queue
from assistant.chat.forms import ResolveForm, ReviewedAnswerForm
from assistant.chat.models import Message, Review, ReviewedAnswer
from assistant.chat.reviewed import CannotConfirm, Cited, confirm, save_reviewed
from ingest.models import Document

PERMISSION = "assistant.change_reviewedanswer"


def _staff(view):
    return login_required(permission_required(PERMISSION, raise_exception=True)(view))


@_staff
def queue(request: HttpRequest) -> TemplateResponse:
    reason = request.GET.get("reason")
    reason = reason if reason in review_queue.REASONS else None
    waiting = list(review_queue.items(reason)[:200])
    for item in waiting:
        item.reasons = review_queue.reasons_of(item)
    ReviewedAnswer.objects.flag_changed()
    context = {
        "items": waiting,
        "reason": reason,
        "reasons": review_queue.REASONS,
        "counts": review_queue.counts(),
        "flagged": ReviewedAnswer.objects.filter(needs_review=True).prefetch_related("citations"),
        "documents": Document.objects.readable_by(request.user)
        .filter(status=Document.Status.READY)
        .order_by("title")[:500],
        "collections": ResolveForm(user=request.user).fields["collection"].queryset,
        "resolutions": Review.Resolution,
    }
    return TemplateResponse(request, "chat/review.html", context)


def _initial_from(message: Message) -> dict:
    """A reviewed answer's form filled from an answer: its question, text, collections and the
    passages it cited."""
    asked = message.conversation.messages.filter(pk__lt=message.pk, role="user").last()
    cited = [c for c in message.citations.all() if c.used and c.document_id]
    collections = list(message.conversation.collections.values_list("pk", flat=True)) or sorted(
        {c.document.collection_id for c in cited}
    )
    return {
        "question": asked.text if asked else message.standalone_question,
        "answer": message.text,
        "collections": collections,
        "citations": "\n".join(
            f"{c.document_id} p{c.pages.split('-')[0]}" if c.pages else str(c.document_id)
            for c in cited
        ),
    }


def _initial_from_search(request: HttpRequest) -> dict:
    """From the search page: the query as the question, the passage's document cited."""
    document = (
        Document.objects.readable_by(request.user).filter(pk=request.GET.get("document")).first()
        if request.GET.get("document", "").isdigit()
        else None
    )
    page = request.GET.get("page", "")
    return {
        "question": request.GET.get("q", "")[:500],
        "collections": [document.collection_id] if document else [],
        "citations": f"{document.pk} p{page}" if document and page.isdigit() else "",
    }


@_staff
def write(request: HttpRequest, message_id: int | None = None, reviewed_id: int | None = None):
    """Write a reviewed answer from an answer (taking it out of the queue), from a search
    result, or edit one."""
    message = (
        get_object_or_404(
            Message.objects.filter(role=Message.Role.ASSISTANT).select_related("conversation"),
            pk=message_id,
        )
        if message_id
        else None
    )
    reviewed = (
        get_object_or_404(ReviewedAnswer.objects.readable_by(request.user), pk=reviewed_id)
        if reviewed_id
        else None
    )
    if request.method == "POST":
        form = ReviewedAnswerForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            saved = save_reviewed(
                question=data["question"],
                answer=data["answer"],
                collections=list(data["collections"]),
                variants=data["variants"],
                cited=[Cited(document, page) for document, page in data["citations"]],
                by=request.user,
                source_message=message,
                reviewed=reviewed,
            )
            if message is not None:
                review_queue.resolve(
                    message,
                    by=request.user,
                    resolution=Review.Resolution.ANSWERED,
                    reviewed_answer=saved,
                )
            messages.success(request, _("Saved: the next question like this one gets it."))
            return redirect("review_queue")
    elif reviewed is not None:
        form = ReviewedAnswerForm(
            initial={
                "question": reviewed.question,
                "answer": reviewed.answer,
                "variants": "\n".join(reviewed.variants),
                "collections": list(reviewed.collections.values_list("pk", flat=True)),
                "citations": "\n".join(
                    f"{c.document_id} p{c.page}" if c.page else str(c.document_id)
                    for c in reviewed.citations.all()
                    if c.document_id
                ),
            },
            user=request.user,
        )
    else:
        initial = _initial_from(message) if message else _initial_from_search(request)
        form = ReviewedAnswerForm(initial=initial, user=request.user)
    context = {"form": form, "message": message, "reviewed": reviewed}
    return TemplateResponse(request, "chat/review_answer.html", context)


@_staff
@require_POST
def resolve(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(Message.objects.filter(role=Message.Role.ASSISTANT), pk=message_id)
    form = ResolveForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors() or [_("Check the form.")]))
        return redirect("review_queue")
    data = form.cleaned_data
    review_queue.resolve(
        message,
        by=request.user,
        resolution=data["resolution"],
        note=data["note"],
        document=data["document"],
        collection=data["collection"],
    )
    return redirect("review_queue")


@_staff
@require_POST
def confirm_reviewed(request: HttpRequest, reviewed_id: int) -> HttpResponse:
    reviewed = get_object_or_404(ReviewedAnswer.objects.readable_by(request.user), pk=reviewed_id)
    try:
        confirm(reviewed, by=request.user)
    except CannotConfirm as refusal:
        messages.error(request, str(refusal))
    return redirect("review_queue")


class _Echo:
    def write(self, value: str) -> str:
        return value


@_staff
def export_csv(request: HttpRequest) -> HttpResponse:
    """The queue, open and resolved, one answer a row."""
    header = ["message_id", "created_at", "user", "reasons", "question", "answer", "comment"]
    header += ["resolution", "note", "document", "collection", "reviewed_answer_id"]
    writer = csv.writer(_Echo())

    def rows():
        for resolved in (False, True):
            for item in review_queue.items(resolved=resolved).select_related("review"):
                review = getattr(item, "review", None) if resolved else None
                yield [
                    item.pk,
                    item.created_at.isoformat(),
                    item.conversation.owner.username,
                    "; ".join(review_queue.reasons_of(item)),
                    item.question,
                    item.text,
                    item.comment or "",
                    review.resolution if review else "",
                    review.note if review else "",
                    review.document_id or "" if review else "",
                    review.collection_id or "" if review else "",
                    review.reviewed_answer_id or "" if review else "",
                ]

    lines = (writer.writerow(row) for row in chain([header], rows()))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="review-queue.csv"'
    return response
