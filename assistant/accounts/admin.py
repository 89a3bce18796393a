from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.utils.translation import gettext_lazy as _

from assistant.accounts.models import ApiToken, DirectoryGroup, ExternalIdentity, QuotaOverride
from assistant.audit.admin import Audited


@admin.register(QuotaOverride)
class QuotaOverrideAdmin(Audited, admin.ModelAdmin):
    """Quotas for one user or one group; a blank field keeps the default, 0 means no limit."""

    audit_as = "quota"

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
class ApiTokenAdmin(Audited, admin.ModelAdmin):
    """Tokens are created by their owners; an admin can see them and revoke them."""

    audit_as = "token"

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    exclude = ["digest"]

    def has_add_permission(self, request):
        return False


@admin.register(DirectoryGroup)
class DirectoryGroupAdmin(Audited, admin.ModelAdmin):
    """Which groups here the members of a directory group get, at every sign-in."""

    audit_as = "directory_group"

    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["groups"]


class ExternalIdentityInline(admin.TabularInline):
    """Where the person signs in: written by their sign-ins, never by hand."""

    model = ExternalIdentity
    extra = 0
    can_delete = False
    fields = readonly_fields = ["provider", "subject", "groups", "last_sign_in"]

    def has_add_permission(self, request, obj=None):
        return False


class QuotaInline(admin.StackedInline):
    model = QuotaOverride
    extra = 1
    max_num = 1
    can_delete = True
    verbose_name = _("quota override (blank: the default; 0: no limit)")
    fields = ["questions_per_day", "tokens_per_day", "cost_per_month_usd"]


# Django stores permission names in English when it creates them ("Can add citation"): the
# choices are labelled again from the model's translated name.
ACTIONS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
}


def permission_label(permission: Permission) -> str:
    model = permission.content_type.model_class()
    action, _sep, name = permission.codename.partition("_")
    if model is None or action not in ACTIONS or name != model._meta.model_name:
        return str(permission)
    meta = model._meta
    can = ACTIONS[action] % {"model": meta.verbose_name}
    return f"{meta.app_config.verbose_name} | {meta.verbose_name} | {can}"


class TranslatedPermissions:
    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name in {"permissions", "user_permissions"}:
            field.label_from_instance = permission_label
            # Celery's result records are not managed in the admin (assistant/admin.py).
            field.queryset = field.queryset.exclude(content_type__app_label="django_celery_results")
        return field


class UserWithQuotaAdmin(Audited, TranslatedPermissions, UserAdmin):
    """A change of role is a change of the user's groups: its entry names them before and after."""

    inlines = [*UserAdmin.inlines, QuotaInline, ExternalIdentityInline]
    audit_as = "user"
    audit_inlines = {"quotaoverride": "quota"}


class GroupWithQuotaAdmin(Audited, TranslatedPermissions, GroupAdmin):
    inlines = [*GroupAdmin.inlines, QuotaInline]
    audit_as = "group"
    audit_inlines = {"quotaoverride": "quota"}


for model, model_admin in [(User, UserWithQuotaAdmin), (Group, GroupWithQuotaAdmin)]:
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
