"""Who may open a session: a password kept here, or a sign-in at the company's identity provider
or directory. Both keep a session only while the account is active: an admin's deactivation ends
it at the person's next request."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class PasswordBackend(ModelBackend):
    """Passwords kept here: everyone's, or with PASSWORD_LOGIN=superusers only superusers'."""

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and (
            settings.PASSWORD_LOGIN == "everyone" or user.is_superuser
        )


class DirectoryBackend(ModelBackend):
    """The sessions of people an identity provider vouched for (assistant.accounts.directory):
    it checks no password itself, it only keeps their sessions and permissions."""

    def authenticate(self, request, **credentials):
        return None
