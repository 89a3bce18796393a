from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from assistant.accounts.models import ApiToken, QuotaOverride


@admin.register(QuotaOverride)
class QuotaOverrideAdmin(admin.ModelAdmin):
    """Quotas for one user or one group; a blank field keeps the default, 0 means no limit."""

    list_display = ["__str__", "questions_per_day", "tokens_per_day", "cost_per_month_usd"]
    autocomplete_fields = ["user"]
    fieldsets = [
        (None, {"fields": ["user", "group"], "description": _("Choose a user or a group.")}),
        (
            _("Limits (blank: the default from settings; 0: no limit)"),
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
    verbose_name = _("quota override (blank: the default; 0: no limit)")
    fields = ["questions_per_day", "tokens_per_day", "cost_per_month_usd"]


class UserWithQuotaAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, QuotaInline]


class GroupWithQuotaAdmin(GroupAdmin):
    inlines = [*GroupAdmin.inlines, QuotaInline]


for model, model_admin in [(User, UserWithQuotaAdmin), (Group, GroupWithQuotaAdmin)]:
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
