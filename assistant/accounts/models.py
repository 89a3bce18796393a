"""Quotas and what was used against them, personal API tokens, and shared rate-limit counters."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q


class QuotaOverride(models.Model):
    """Quotas for one user or one group instead of the defaults in settings.

    A blank field keeps the default; 0 means no limit. A user's own override wins over their
    groups'; among groups the most generous limit wins.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    group = models.OneToOneField(Group, null=True, blank=True, on_delete=models.CASCADE)
    questions_per_day = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_day = models.PositiveIntegerField(null=True, blank=True)
    cost_per_month_usd = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True, group__isnull=False)
                | Q(user__isnull=False, group__isnull=True),
                name="quota_for_user_or_group",
            )
        ]

    def __str__(self) -> str:
        return f"Quota for {self.user or self.group}"


class QuotaCounter(models.Model):
    """What one user used of their quota in one period (a day or a month): questions, tokens
    and cost; quotas are guarded UPDATEs on it."""

    class Period(models.TextChoices):
        DAY = "day", "Day"
        MONTH = "month", "Month"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    period = models.CharField(max_length=5, choices=Period.choices)
    starts = models.DateField()
    questions = models.PositiveIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "period", "starts"], name="one_counter")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.period} {self.starts}"


class ApiToken(models.Model):
    """A personal API token: only its SHA-256 is kept; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The token's first characters.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Throttle(models.Model):
    """A fixed-window counter shared by every web process (login attempts, abuse limits)."""

    key = models.CharField(max_length=200, primary_key=True)
    window_started = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.hits}"
