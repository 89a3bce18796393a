"""The admin pages of the `assistant` app's models, registered by the package each belongs to."""

from django.contrib import admin
from django.utils.translation import gettext_noop
from django_celery_results.models import GroupResult, TaskResult

from assistant.accounts import admin as accounts_admin
from assistant.audit import admin as audit_admin
from assistant.chat import admin as chat_admin
from assistant.llm import admin as llm_admin

__all__ = ["accounts_admin", "audit_admin", "chat_admin", "llm_admin"]

# Celery's task and group results are the worker's bookkeeping, not something to manage here.
for _model in (TaskResult, GroupResult):
    admin.site.unregister(_model)

# Django 5.2's admin shows these, and its Chinese catalog does not have them yet: ours does.
DJANGO_MISSING = [
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
]
