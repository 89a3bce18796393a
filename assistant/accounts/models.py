"""Quotas and what was used against them, personal API tokens, and shared rate-limit counters."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class QuotaOverride(models.Model):
    """Quotas for one user or one group instead of the defaults in settings.

    A blank field keeps the default; 0 means no limit. A user's own override wins over their
    groups'; among groups the most generous limit wins.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        verbose_name=_("user"),
    )
    group = models.OneToOneField(
        Group, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("group")
    )
    questions_per_day = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("questions per day")
    )
    tokens_per_day = models.PositiveIntegerField(
        null=True, blank=True, verbose_name=_("tokens per day")
    )
    cost_per_month_usd = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        verbose_name=_("cost per month (USD)"),
    )

    class Meta:
        verbose_name = _("quota override")
        verbose_name_plural = _("quota overrides")
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True, group__isnull=False)
                | Q(user__isnull=False, group__isnull=True),
                name="quota_for_user_or_group",
            )
        ]

    def __str__(self) -> str:
        return gettext("Quota for %(who)s") % {"who": self.user or self.group}


class QuotaCounter(models.Model):
    """What one user used of their quota in one period (a day or a month): questions, tokens
    and cost; quotas are guarded UPDATEs on it."""

    class Period(models.TextChoices):
        DAY = "day", _("Day")
        MONTH = "month", _("Month")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, verbose_name=_("user")
    )
    period = models.CharField(max_length=5, choices=Period.choices, verbose_name=_("period"))
    starts = models.DateField(verbose_name=_("starts"))
    questions = models.PositiveIntegerField(default=0, verbose_name=_("questions"))
    tokens = models.BigIntegerField(default=0, verbose_name=_("tokens"))
    cost_usd = models.DecimalField(
        max_digits=12, decimal_places=6, default=0, verbose_name=_("cost (USD)")
    )

    class Meta:
        verbose_name = _("quota counter")
        verbose_name_plural = _("quota counters")
        constraints = [
            models.UniqueConstraint(fields=["user", "period", "starts"], name="one_counter")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.get_period_display()} {self.starts}"


class ApiToken(models.Model):
    """A personal API token: only its SHA-256 is kept; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(max_length=100, verbose_name=_("name"))
    prefix = models.CharField(
        max_length=16, help_text=_("The token's first characters."), verbose_name=_("prefix")
    )
    digest = models.CharField(max_length=64, unique=True, verbose_name=_("digest"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Throttle(models.Model):
    """A fixed-window counter shared by every web process (login attempts, abuse limits)."""

    key = models.CharField(max_length=200, primary_key=True, verbose_name=_("key"))
    window_started = models.DateTimeField(verbose_name=_("window started"))
    hits = models.PositiveIntegerField(default=0, verbose_name=_("hits"))

    class Meta:
        verbose_name = _("throttle")
        verbose_name_plural = _("throttles")

    def __str__(self) -> str:
        return f"{self.key}: {self.hits}"


class UserLanguage(models.Model):
    """The language a person chose with the switcher: it wins over their browser's, everywhere
    they log in, and it is the language of what is written for them later (a swept answer)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="language",
        verbose_name=_("user"),
    )
    language = models.CharField(_("language"), max_length=10)

    class Meta:
        verbose_name = _("language")
        verbose_name_plural = _("languages")

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"

    @classmethod
    def of(cls, user_id: int) -> str | None:
        """The user's chosen language if it is still one the site offers, else None."""
        language = cls.objects.filter(user_id=user_id).values_list("language", flat=True).first()
        return language if language in dict(settings.LANGUAGES) else None


class DirectoryGroup(models.Model):
    """A group of the company's identity provider or directory, and the groups here its members
    get: roles (admin, staff, user) or groups that read collections. Members get them at every
    sign-in; someone who left the directory group loses them at their next."""

    name = models.CharField(
        max_length=500,
        unique=True,
        help_text=_(
            "As the provider sends it: an OpenID Connect group claim's value or an LDAP group's "
            "distinguished name. Letter case does not matter."
        ),
        verbose_name=_("directory group"),
    )
    groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="directory_groups",
        help_text=_("A role (admin, staff, user) or a group that reads collections."),
        verbose_name=_("groups here"),
    )

    class Meta:
        verbose_name = _("directory group mapping")
        verbose_name_plural = _("directory group mappings")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ExternalIdentity(models.Model):
    """Who a person is at an identity provider or directory: the account they sign in to here."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="external_identities",
        verbose_name=_("user"),
    )
    provider = models.CharField(max_length=50, verbose_name=_("provider"))
    subject = models.CharField(
        max_length=500,
        help_text=_("The provider's stable identifier of the person."),
        verbose_name=_("subject"),
    )
    groups = models.JSONField(
        default=list, blank=True, help_text=_("At the last sign-in."), verbose_name=_("groups")
    )
    last_sign_in = models.DateTimeField(verbose_name=_("last sign-in"))

    class Meta:
        verbose_name = _("external identity")
        verbose_name_plural = _("external identities")
        constraints = [models.UniqueConstraint(fields=["provider", "subject"], name="one_identity")]

    def __str__(self) -> str:
        return f"{self.provider}: {self.subject}"
