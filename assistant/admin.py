from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

from assistant.models import ApiToken, Conversation, Feedback, LlmCall, Message, QuotaOverride


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


@admin.register(LlmCall)
class LlmCallAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "user",
        "kind",
        "provider",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "first_token_ms",
        "total_ms",
        "outcome",
    ]
    list_filter = ["outcome", "kind", "cached", "fallback", "provider", "model"]
    readonly_fields = [f.name for f in LlmCall._meta.fields]

    def has_add_permission(self, request):
        return False


admin.site.register(Conversation)


@admin.register(QuotaOverride)
class QuotaOverrideAdmin(admin.ModelAdmin):
    """Quotas for one user or one group; a blank field keeps the default, 0 means no limit."""

    list_display = ["__str__", "questions_per_day", "tokens_per_day", "cost_per_month_usd"]
    autocomplete_fields = ["user"]
    fieldsets = [
        (None, {"fields": ["user", "group"], "description": "Choose a user or a group."}),
        (
            "Limits (blank: the default from settings; 0: no limit)",
            {"fields": ["questions_per_day", "tokens_per_day", "cost_per_month_usd"]},
        ),
    ]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by their owners; an admin can see them and revoke them."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    exclude = ["digest"]

    def has_add_permission(self, request):
        return False


class QuotaInline(admin.StackedInline):
    model = QuotaOverride
    extra = 1
    max_num = 1
    can_delete = True
    verbose_name = "quota override (blank: the default; 0: no limit)"
    fields = ["questions_per_day", "tokens_per_day", "cost_per_month_usd"]


class UserWithQuotaAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, QuotaInline]


class GroupWithQuotaAdmin(GroupAdmin):
    inlines = [*GroupAdmin.inlines, QuotaInline]


for model, model_admin in [(User, UserWithQuotaAdmin), (Group, GroupWithQuotaAdmin)]:
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
