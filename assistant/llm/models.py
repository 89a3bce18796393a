"""The record of every model call: the one table usage, cost and quotas are read from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LlmCall(models.Model):
    """Every model call: what it cost, how long it took, how it ended."""

    class Outcome(models.TextChoices):
        OK = "ok", _("Answered")
        ERROR = "error", _("Failed before any text")
        BROKEN = "broken", _("Cut off mid-answer")
        CANCELLED = "cancelled", _("Stopped")
        INTERRUPTED = "interrupted", _("Interrupted (usage estimated)")

    class Kind(models.TextChoices):
        ANSWER = "answer", _("Answer")
        FINAL = "final", _("Final answer (stronger model)")
        REWRITE = "rewrite", _("Query rewrite")
        EMBEDDING = "embedding", _("Embedding")
        RERANK = "rerank", _("Rerank")
        OCR = "ocr", _("Text recognition")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, verbose_name=_("user")
    )
    message = models.ForeignKey(
        "assistant.Message",
        null=True,
        on_delete=models.SET_NULL,
        related_name="calls",
        verbose_name=_("message"),
    )
    kind = models.CharField(
        max_length=10, choices=Kind.choices, default=Kind.ANSWER, verbose_name=_("kind")
    )
    provider = models.CharField(max_length=40, verbose_name=_("provider"))
    model = models.CharField(max_length=100, verbose_name=_("model"))
    prompt_tokens = models.PositiveIntegerField(default=0, verbose_name=_("prompt tokens"))
    completion_tokens = models.PositiveIntegerField(default=0, verbose_name=_("completion tokens"))
    cached_tokens = models.PositiveIntegerField(default=0, verbose_name=_("cached tokens"))
    estimated = models.BooleanField(default=False, verbose_name=_("estimated"))
    cached = models.BooleanField(
        default=False, help_text=_("Served from the answer cache."), verbose_name=_("cached")
    )
    fallback = models.BooleanField(
        default=False, help_text=_("Answered by a fallback model."), verbose_name=_("fallback")
    )
    cost_usd = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, verbose_name=_("cost (USD)")
    )
    first_token_ms = models.PositiveIntegerField(null=True, verbose_name=_("first token (ms)"))
    total_ms = models.PositiveIntegerField(null=True, verbose_name=_("total time (ms)"))
    outcome = models.CharField(
        max_length=20, choices=Outcome.choices, default=Outcome.OK, verbose_name=_("outcome")
    )
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )
    # The request (or task) that made the call: its log lines and response carry the same id.
    request_id = models.CharField(
        max_length=64, blank=True, db_index=True, verbose_name=_("request id")
    )

    class Meta:
        verbose_name = _("model call")
        verbose_name_plural = _("model calls")

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} {self.get_outcome_display()}"
