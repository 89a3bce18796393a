"""Three roles as groups: admin, staff and user, with what each may do.

- admin: manage collections, documents and who reads them, users and their quotas; see usage,
  cost, feedback and the audit log (the Django admin and the usage dashboard).
- staff: support staff: everything a user does, plus downloading original files, writing
  reviewed answers and working the review queue, reading feedback and the usage dashboard.
- user: chat and search in the collections they may read.

The groups are (re)created after every migrate; new accounts join "user"; members of admin or
staff get into the admin site (is_staff).
"""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_migrate, post_save

ADMIN, STAFF, USER = "admin", "staff", "user"

# Writing reviewed answers and working the review queue: support staff's job, and admins'.
REVIEWING = [
    f"assistant.{action}_{model}"
    for action in ("add", "change", "delete", "view")
    for model in ("reviewedanswer", "reviewedcitation")
]

PERMISSIONS = {
    ADMIN: [
        "ingest.*",
        "assistant.add_quotaoverride",
        "assistant.change_quotaoverride",
        "assistant.delete_quotaoverride",
        "assistant.view_quotaoverride",
        "assistant.view_llmcall",
        "assistant.view_feedback",
        "assistant.view_message",
        *REVIEWING,
        "assistant.view_apitoken",
        "assistant.delete_apitoken",
        "assistant.view_auditentry",
        "auth.view_user",
        "auth.change_user",
        "auth.add_user",
        "auth.view_group",
    ],
    STAFF: [
        "ingest.view_collection",
        "ingest.view_document",
        "assistant.view_feedback",
        "assistant.view_llmcall",
        *REVIEWING,
    ],
    USER: [],
}


def ensure_roles(sender=None, **_) -> None:
    """Create or update the groups; after a migrate, once every app's permissions exist."""
    if sender is not None and sender is not list(apps.get_app_configs())[-1]:
        return
    for role, wanted in PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for spec in wanted:
            app, codename = spec.split(".")
            found = Permission.objects.filter(content_type__app_label=app)
            permissions += found if codename == "*" else found.filter(codename=codename)
        group.permissions.set(permissions)


def _new_account_joins_user(sender, instance, created, raw=False, **_) -> None:
    if created and not raw:
        group, _ = Group.objects.get_or_create(name=USER)
        instance.groups.add(group)


def _staff_roles_enter_admin(sender, instance, action, **_) -> None:
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(
        instance, get_user_model()
    ):
        return
    in_staff_role = instance.groups.filter(name__in=[ADMIN, STAFF]).exists()
    if in_staff_role != instance.is_staff and not instance.is_superuser:
        instance.is_staff = in_staff_role
        instance.save(update_fields=["is_staff"])


def connect() -> None:
    user_model = get_user_model()
    post_migrate.connect(ensure_roles, dispatch_uid="roles.ensure")
    post_save.connect(_new_account_joins_user, sender=user_model, dispatch_uid="roles.new")
    m2m_changed.connect(
        _staff_roles_enter_admin, sender=user_model.groups.through, dispatch_uid="roles.staff"
    )
