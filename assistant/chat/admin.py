from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from assistant.audit.admin import Audited
from assistant.chat.models import (
    Conversation,
    EvaluationRun,
    Feedback,
    Message,
    ReviewedAnswer,
    ReviewedCitation,
)
from assistant.chat.reviewed import embed_phrasings


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """Thumbs-down answers first: what people found wrong, with the question and the answer."""

    list_display = ["helpful", "question", "answer", "comment", "user", "created_at"]
    list_filter = ["helpful", "created_at"]
    search_fields = ["comment", "message__text"]
    list_select_related = ["message", "user"]
    readonly_fields = ["message", "user", "helpful", "comment", "created_at"]
    ordering = ["helpful", "-created_at"]

    @admin.display(description=_("Question"))
    def question(self, feedback):
        asked = (
            Message.objects.filter(
                conversation_id=feedback.message.conversation_id,
                pk__lt=feedback.message_id,
                role="user",
            )
            .order_by("-pk")
            .first()
        )
        return asked.text[:200] if asked else ""

    @admin.display(description=_("Answer"))
    def answer(self, feedback):
        return feedback.message.text[:300]

    def has_add_permission(self, request):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "status",
        "provider",
        "model",
        "content_gap",
        "cached",
        "first_token_ms",
        "total_ms",
        "created_at",
    ]
    list_filter = ["status", "content_gap", "cached", "provider", "role"]
    search_fields = ["text", "standalone_question"]
    readonly_fields = [f.name for f in Message._meta.fields]

    def has_add_permission(self, request):
        return False


admin.site.register(Conversation)


def _share(value) -> str:
    return "" if value is None else f"{value:.1%}"


def _flagged(rates: dict, kind: str) -> str:
    overall = (rates or {}).get("overall")
    if not overall or not overall[kind]:
        return ""
    return f"{overall[f'{kind}_flagged']}/{overall[kind]}"


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    """`manage.py evaluate` runs side by side, newest first: a prompt, model or retrieval change
    reads against the run before it."""

    list_display = [
        "created_at",
        "kind",
        "collection_name",
        "questions",
        "provider",
        "model",
        "embedder",
        "reranker",
        "recall",
        "mrr",
        "answered",
        "not_covered_answerable",
        "not_covered_unanswerable",
        "gold_cited",
        "first_token",
        "tokens",
        "cost",
    ]
    list_filter = ["kind", "collection_name", "provider", "model"]
    readonly_fields = [f.name for f in EvaluationRun._meta.fields]

    @admin.display(description=_("recall@k"))
    def recall(self, run):
        overall = run.figures.get("groups", {}).get("overall")
        return f"{overall['recall']:.3f}" if overall else ""

    @admin.display(description=_("MRR@10"))
    def mrr(self, run):
        overall = run.figures.get("groups", {}).get("overall")
        return f"{overall['mrr']:.3f}" if overall else ""

    @admin.display(description=_("answered"))
    def answered(self, run):
        return _share(run.figures.get("answered_share"))

    @admin.display(description=_("not covered: answerable"))
    def not_covered_answerable(self, run):
        return _flagged(run.figures.get("not_covered"), "answerable")

    @admin.display(description=_("not covered: unanswerable"))
    def not_covered_unanswerable(self, run):
        return _flagged(run.figures.get("not_covered"), "unanswerable")

    @admin.display(description=_("cites gold"))
    def gold_cited(self, run):
        return _share(run.figures.get("gold_cited_share"))

    @admin.display(description=_("first token p50 / p95"))
    def first_token(self, run):
        first = run.figures.get("first_token_ms")
        return _("%(p50).0f / %(p95).0f ms") % first if first else ""

    @admin.display(description=_("tokens"))
    def tokens(self, run):
        return run.figures.get("tokens", "")

    @admin.display(description=_("cost (USD)"))
    def cost(self, run):
        cost = run.figures.get("cost_usd")
        return "" if cost is None else f"{cost:.4f}"

    def has_add_permission(self, request):
        return False


class ReviewedCitationInline(admin.TabularInline):
    model = ReviewedCitation
    fields = ["n", "document", "page", "title", "document_version"]
    readonly_fields = ["title", "document_version"]
    raw_id_fields = ["document"]
    extra = 1


@admin.register(ReviewedAnswer)
class ReviewedAnswerAdmin(Audited, admin.ModelAdmin):
    """Saving here reviews the answer now: its phrasings are embedded again, its citations
    pinned to their documents' current versions, and a flag for review cleared."""

    audit_as = "reviewed_answer"

    list_display = ["question", "needs_review", "reviewed_by", "reviewed_at"]
    list_filter = ["needs_review", "collections"]
    search_fields = ["question", "answer"]
    fields = ["question", "answer", "variants", "collections", "needs_review", "review_reason"]
    readonly_fields = ["review_reason"]
    inlines = [ReviewedCitationInline]

    def save_model(self, request, obj, form, change):
        obj.reviewed_by, obj.reviewed_at = request.user, timezone.now()
        obj.review_reason = "" if not obj.needs_review else obj.review_reason
        embed_phrasings(obj)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        citations = formset.save(commit=False)
        for citation in citations:
            if citation.document is not None:
                citation.document_version = citation.document.version
                citation.title = citation.document.title or citation.document.source_path
            citation.save()
        for gone in formset.deleted_objects:
            gone.delete()
