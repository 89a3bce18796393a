from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.html import escape
from django.views.decorators.http import require_POST

from assistant.accounts import quotas
from assistant.chat import conversations
from assistant.chat.answers import answer_events, answer_fully
from assistant.chat.events import Event, Kind, merge_deltas
from assistant.chat.forms import AskForm, FeedbackForm, RenameForm, SearchForm
from assistant.chat.highlight import highlight, snippet
from assistant.chat.installation import describe
from assistant.chat.models import Conversation, Feedback, Message
from assistant.chat.searching import search_as
from assistant.lib import sse


def home(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, "chat/home.html", {"about": describe()})


@login_required
def search(request: HttpRequest) -> TemplateResponse:
    """Search without generation; one URL for the page and, for htmx, the results fragment."""
    form = SearchForm(request.GET or None, user=request.user)
    results, query, took = [], "", None
    if form.is_valid() and (query := form.cleaned_data["q"]):
        collection = form.cleaned_data["collection"]
        found = search_as(
            request.user, query, collection_ids=[collection.pk] if collection else None, k=10
        )
        took = found.timings["total_ms"]
        results = [
            {"hit": hit, "passage": highlight(snippet(hit.text, query), query)}
            for hit in found.hits
        ]
    template = "chat/search.html"
    if request.htmx:
        template += "#results"
    context = {"form": form, "results": results, "query": query, "took": took}
    return TemplateResponse(request, template, context)


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    # Someone else's conversation is simply not found: no hint that it exists.
    return get_object_or_404(Conversation.objects.owned_by(request.user), pk=conversation_id)


def _message(request: HttpRequest, message_id: int) -> Message:
    return _answer_of(request.user, message_id)


def _answer_of(user, message_id: int) -> Message:
    return get_object_or_404(
        Message.objects.answers_of(user).select_related("conversation"), pk=message_id
    )


@login_required
def chat_home(request: HttpRequest) -> HttpResponse:
    latest = Conversation.objects.owned_by(request.user).first()
    return redirect("conversation", (latest or conversations.blank_conversation(request.user)).pk)


@login_required
def conversation(request: HttpRequest, conversation_id: int) -> TemplateResponse:
    current = _conversation(request, conversation_id)
    context = {
        "conversation": current,
        "conversations": Conversation.objects.owned_by(request.user)[:50],
        "messages": current.messages.prefetch_related(
            "citations__document__source_item__source", "feedback"
        ),
        "form": AskForm(
            user=request.user, initial={"collections": list(current.collections.all())}
        ),
        "remaining": quotas.remaining(request.user),
        "question_max_chars": settings.QUESTION_MAX_CHARS,
    }
    return TemplateResponse(request, "chat/chat.html", context)


@login_required
@require_POST
def new_conversation(request: HttpRequest) -> HttpResponse:
    return redirect("conversation", conversations.blank_conversation(request.user).pk)


@login_required
@require_POST
def rename_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    current = _conversation(request, conversation_id)
    form = RenameForm(request.POST)
    if form.is_valid():
        current.title = form.cleaned_data["title"]
        current.save(update_fields=["title", "updated_at"])
    return redirect("conversation", current.pk)


@login_required
@require_POST
def delete_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    _conversation(request, conversation_id).delete()
    return redirect("chat")


@login_required
@require_POST
def ask(request: HttpRequest, conversation_id: int) -> HttpResponse:
    current = _conversation(request, conversation_id)
    form = AskForm(request.POST, user=request.user)
    if not form.is_valid():
        return _refused(request, form.refusal(), status=400)
    try:
        reply = conversations.ask(
            conversation=current,
            question=form.cleaned_data["question"],
            high_accuracy=form.cleaned_data["high_accuracy"],
            collections=form.cleaned_data["collections"],
        )
    except quotas.QuotaExceeded as refusal:
        return _refused(request, str(refusal), retry_after=refusal.retry_after_s)
    except conversations.TooManyOpenAnswers as refusal:
        return _refused(request, str(refusal), retry_after=5)
    return _asked(request, current, reply)


@login_required
@require_POST
def ask_documents(request: HttpRequest, message_id: int) -> HttpResponse:
    """ "Ask the documents instead" of a reviewed answer: the same question again, answered
    from the documents this time."""
    served = _message(request, message_id)
    question = served.conversation.messages.filter(pk__lt=served.pk, role="user").last()
    if question is None:
        raise Http404
    try:
        reply = conversations.ask(
            conversation=served.conversation,
            question=question.text,
            high_accuracy=served.high_accuracy,
            use_reviewed=False,
        )
    except quotas.QuotaExceeded as refusal:
        return _refused(request, str(refusal), retry_after=refusal.retry_after_s)
    except conversations.TooManyOpenAnswers as refusal:
        return _refused(request, str(refusal), retry_after=5)
    return _asked(request, served.conversation, reply)


def _asked(request: HttpRequest, current: Conversation, reply: Message) -> HttpResponse:
    if request.htmx:
        context = {
            # The question and its reply: the conversation's last two messages up to the reply
            # (asking takes a per-user lock, so nothing comes between them).
            "messages": reversed(current.messages.filter(pk__lte=reply.pk).order_by("-pk")[:2]),
            "conversation": current,
            "remaining": quotas.remaining(request.user),
            "oob": True,
        }
        return TemplateResponse(request, "chat/_asked.html", context)
    return redirect("conversation", current.pk)


def _refused(request: HttpRequest, reason: str, *, status=429, retry_after=None) -> HttpResponse:
    """A question that was not taken: the reason goes above the composer (htmx) or on a page."""
    if request.htmx:
        response = HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
        response["HX-Retarget"] = "#ask-error"
        response["HX-Reswap"] = "innerHTML"
    else:
        response = TemplateResponse(request, "chat/refused.html", {"reason": reason}, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


async def stream(request: HttpRequest, message_id: int) -> StreamingHttpResponse:
    """The answer as server-sent events; a finished message replays as one final event."""
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404
    message = await sync_to_async(_answer_of)(user, message_id)
    return sse.response(answer_events(message, user=user), render_event, merge_deltas)


async def render_event(item: Event) -> str:
    """Text and status are written in the event loop; only the final message reads the
    database (its citations and vote), in a thread."""
    if item.kind == Kind.DELTA:
        return sse.event("delta", escape(item.data))
    if item.kind == Kind.STATUS:
        status = sse.event("status", Message.Status(item.data).label)
        if item.data == Message.Status.UPGRADING:
            return status + sse.event("restart", "")  # the final answer replaces the draft
        return status
    html = await sync_to_async(render_to_string)(
        "chat/_message.html", {"message": item.data, "final": True}
    )
    return sse.event("done", html)


@login_required
@require_POST
def stop(request: HttpRequest, message_id: int) -> HttpResponse:
    conversations.request_stop(_message(request, message_id))
    return HttpResponse(status=204)


@login_required
@require_POST
def answer_without_javascript(request: HttpRequest, message_id: int) -> HttpResponse:
    """The no-JavaScript path: run the same pipeline to the end, then show the conversation."""
    message = _message(request, message_id)
    answer_fully(message, user=request.user)
    return redirect("conversation", message.conversation_id)


@login_required
@require_POST
def feedback(request: HttpRequest, message_id: int) -> HttpResponse:
    message = _message(request, message_id)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        Feedback.objects.update_or_create(
            message=message,
            user=request.user,
            defaults={
                "helpful": form.cleaned_data["helpful"],
                "comment": form.cleaned_data["comment"],
            },
        )
    if request.htmx:
        return TemplateResponse(
            request,
            "chat/_message.html#feedback",
            {"message": message, "vote": form.cleaned_data.get("helpful")},
        )
    return redirect("conversation", message.conversation_id)
