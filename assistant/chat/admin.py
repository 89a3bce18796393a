from __future__ import annotations

from django.contrib import admin

from assistant.chat.models import Conversation, Feedback, Message


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    """Thumbs-down answers first: what people found wrong, with the question and the answer."""

    list_display = ["helpful", "question", "answer", "comment", "user", "created_at"]
    list_filter = ["helpful", "created_at"]
    search_fields = ["comment", "message__text"]
    list_select_related = ["message", "user"]
    readonly_fields = ["message", "user", "helpful", "comment", "created_at"]
    ordering = ["helpful", "-created_at"]

    @admin.display(description="Question")
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

    @admin.display(description="Answer")
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
