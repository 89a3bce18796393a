"""The audit log: who did what, to what, from where, under which request. Append-only."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnly(Exception):
    """An audit entry was about to be changed or deleted: only the retention task may."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("audit entries are never changed")

    def delete(self):
        raise AppendOnly("audit entries are deleted only by the retention task")


class AuditEntry(models.Model):
    """One action. The actor is kept by id and name, not by foreign key: an entry outlives the
    account (deleting a user must not change or delete what they did)."""

    class Action(models.TextChoices):
        LOGIN_SUCCEEDED = "login.succeeded", _("Signed in")
        LOGIN_FAILED = "login.failed", _("Sign-in failed")
        LOGIN_LOCKED = "login.locked", _("Sign-in locked")
        TOKEN_CREATED = "token.created", _("API token created")
        TOKEN_REVOKED = "token.revoked", _("API token revoked")
        TOKEN_CHANGED = "token.changed", _("API token changed")
        TOKEN_DELETED = "token.deleted", _("API token deleted")
        USER_CREATED = "user.created", _("User created")
        USER_CHANGED = "user.changed", _("User changed")
        USER_DELETED = "user.deleted", _("User deleted")
        GROUP_CREATED = "group.created", _("Group created")
        GROUP_CHANGED = "group.changed", _("Group changed")
        GROUP_DELETED = "group.deleted", _("Group deleted")
        QUOTA_CREATED = "quota.created", _("Quota override created")
        QUOTA_CHANGED = "quota.changed", _("Quota override changed")
        QUOTA_DELETED = "quota.deleted", _("Quota override deleted")
        COLLECTION_CREATED = "collection.created", _("Collection created")
        COLLECTION_CHANGED = "collection.changed", _("Collection changed")
        COLLECTION_DELETED = "collection.deleted", _("Collection deleted")
        DOCUMENT_UPLOADED = "document.uploaded", _("Document uploaded")
        DOCUMENT_CHANGED = "document.changed", _("Document changed")
        DOCUMENT_DELETED = "document.deleted", _("Document deleted")
        DOCUMENT_DOWNLOADED = "document.downloaded", _("Document downloaded")
        SOURCE_CREATED = "source.created", _("Source created")
        SOURCE_CHANGED = "source.changed", _("Source changed")
        SOURCE_DELETED = "source.deleted", _("Source deleted")
        SOURCE_SYNCED = "source.synced", _("Source sync requested")
        REVIEWED_ANSWER_CREATED = "reviewed_answer.created", _("Reviewed answer written")
        REVIEWED_ANSWER_CHANGED = "reviewed_answer.changed", _("Reviewed answer changed")
        REVIEWED_ANSWER_CONFIRMED = "reviewed_answer.confirmed", _("Reviewed answer confirmed")
        REVIEWED_ANSWER_DELETED = "reviewed_answer.deleted", _("Reviewed answer deleted")
        DIRECTORY_GROUP_CREATED = "directory_group.created", _("Directory group mapping created")
        DIRECTORY_GROUP_CHANGED = "directory_group.changed", _("Directory group mapping changed")
        DIRECTORY_GROUP_DELETED = "directory_group.deleted", _("Directory group mapping deleted")
        USAGE_EXPORTED = "usage.exported", _("Usage exported")
        AUDIT_EXPORTED = "audit.exported", _("Audit log exported")

    at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("when"))
    actor_id = models.BigIntegerField(null=True, db_index=True, verbose_name=_("actor id"))
    actor_name = models.CharField(max_length=150, blank=True, verbose_name=_("who"))
    address = models.GenericIPAddressField(null=True, verbose_name=_("address"))
    action = models.CharField(
        max_length=40, choices=Action.choices, db_index=True, verbose_name=_("action")
    )
    object_type = models.CharField(max_length=60, blank=True, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, blank=True, verbose_name=_("object id"))
    object_repr = models.CharField(max_length=200, blank=True, verbose_name=_("object"))
    # {"field": [before, after]} for a change; details (a file name, a count) otherwise.
    changes = models.JSONField(default=dict, blank=True, verbose_name=_("changes"))
    request_id = models.CharField(
        max_length=64, blank=True, db_index=True, verbose_name=_("request id")
    )

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        app_label = "assistant"
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit entries are deleted only by the retention task")
