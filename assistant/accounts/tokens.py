"""Personal API tokens: random, shown once, stored as SHA-256, revoked at once."""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from assistant.accounts.models import ApiToken
from assistant.audit import log

PREFIX = "qka_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; the plain token is returned here and never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name or "API token", prefix=token[:10], digest=digest(token)
    )
    log.record(log.Action.TOKEN_CREATED, target=row, changes={"owner": user.get_username()})
    return row, token


def user_for(token: str):
    """The active user a live token belongs to, or None; notes when it was last used."""
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


def revoke(user, token_id: int) -> bool:
    revoked = ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        log.record(log.Action.TOKEN_REVOKED, target=ApiToken.objects.get(pk=token_id))
    return bool(revoked)
