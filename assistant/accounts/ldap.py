"""Signing in with the company's LDAP directory or Active Directory (django-auth-ldap), on the
LDAP_* settings (assistant/lib/ldap_settings.py).

The directory checks the password; the account here is the one directory.sign_in keeps for the
entry's stable id, never a local account of the same name, and its name, e-mail and mapped
groups follow the directory at every sign-in. A directory that cannot be reached (or refuses the
service account) is said to the person as such, not as a wrong password.
"""

from __future__ import annotations

import logging
import uuid

from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from django_auth_ldap import backend

from assistant.accounts import directory
from assistant.accounts.backends import DirectoryBackend

log = logging.getLogger(__name__)

PROVIDER = "ldap"
UNREACHABLE = _("The company directory cannot be reached right now. Try again in a few minutes.")


class DirectoryUnreachable(Exception):
    """The directory failed us: down, too slow, TLS refused, or the service account refused."""


class LDAPBackend(backend.LDAPBackend):
    """django-auth-ldap's backend with accounts kept by directory.sign_in.

    Django's login forms show a ValidationError raised while they clean (here, from
    authenticate) as their error: the person reads why they cannot sign in."""

    default_settings = {"ALWAYS_UPDATE_USER": False}  # directory.sign_in does it

    def authenticate(self, request, username=None, password=None, **kwargs):
        try:
            return super().authenticate(request, username, password, **kwargs)
        except DirectoryUnreachable:
            raise ValidationError(UNREACHABLE, code="directory_unreachable") from None
        except directory.SignInRefused as refused:
            raise ValidationError(refused.args[0], code="inactive") from None

    def get_or_build_user(self, username, ldap_user):
        """The entry's account, found or made and brought up to date by directory.sign_in."""
        attrs = ldap_user.attrs or {}  # None where the entry could not be read back

        def first(field: str) -> str:
            values = attrs.get(self.settings.USER_ATTR_MAP.get(field, ""), [])
            return values[0] if values and isinstance(values[0], str) else ""

        user = directory.sign_in(
            provider=PROVIDER,
            subject=subject(ldap_user.dn, attrs),
            username=username,
            email=first("email"),
            first_name=first("first_name"),
            last_name=first("last_name"),
            groups=ldap_user.group_dns if self.settings.GROUP_SEARCH else (),
        )
        return user, False

    def get_user(self, user_id):
        """Sessions kept as for any directory sign-in: a deactivated account's ends at once."""
        return DirectoryBackend().get_user(user_id)


def subject(dn: str, attrs) -> str:
    """The entry's stable id: Active Directory's objectGUID (16 bytes, written as Windows writes
    it), OpenLDAP's entryUUID, else its DN (which changes when the entry is moved)."""
    if guid := attrs.get("objectGUID"):
        # Binary, but django-auth-ldap decodes any value that happens to be valid UTF-8.
        raw = guid[0].encode() if isinstance(guid[0], str) else guid[0]
        return str(uuid.UUID(bytes_le=raw))
    if entry_uuid := attrs.get("entryUUID"):
        return entry_uuid[0].lower()
    return dn.lower()


@receiver(backend.ldap_error, sender=LDAPBackend)
def _unreachable(sender, context, exception, **kwargs) -> None:
    """django-auth-ldap catches a directory's errors and goes on as if the password were wrong;
    raising here (its documented way) makes it stop and say so instead."""
    log.warning("LDAP sign-in failed %s: the directory answered %r", context, exception)
    raise DirectoryUnreachable(str(exception))
