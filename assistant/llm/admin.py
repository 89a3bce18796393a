from __future__ import annotations

from django.contrib import admin

from assistant.llm.models import LlmCall


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
