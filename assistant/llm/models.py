"""The record of every model call: the one table usage, cost and quotas are read from."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LlmCall(models.Model):
    """Every model call: what it cost, how long it took, how it ended."""

    class Outcome(models.TextChoices):
        OK = "ok", "Answered"
        ERROR = "error", "Failed before any text"
        BROKEN = "broken", "Cut off mid-answer"
        CANCELLED = "cancelled", "Stopped"
        INTERRUPTED = "interrupted", "Interrupted (usage estimated)"

    class Kind(models.TextChoices):
        ANSWER = "answer", "Answer"
        REWRITE = "rewrite", "Query rewrite"
        EMBEDDING = "embedding", "Embedding"
        RERANK = "rerank", "Rerank"
        OCR = "ocr", "Text recognition"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    message = models.ForeignKey(
        "assistant.Message", null=True, on_delete=models.SET_NULL, related_name="calls"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ANSWER)
    provider = models.CharField(max_length=40)
    model = models.CharField(max_length=100)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    estimated = models.BooleanField(default=False)
    cached = models.BooleanField(default=False, help_text="Served from the answer cache.")
    fallback = models.BooleanField(default=False, help_text="Answered by a fallback model.")
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    first_token_ms = models.PositiveIntegerField(null=True)
    total_ms = models.PositiveIntegerField(null=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.OK)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.outcome}"
