"""Fixed-window counters in PostgreSQL, so a limit holds across every web process."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from assistant.accounts.models import Throttle

_HIT = """
    INSERT INTO assistant_throttle (key, window_started, hits) VALUES (%(key)s, %(now)s, 1)
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN assistant_throttle.window_started <= %(expired)s
                    THEN 1 ELSE assistant_throttle.hits + 1 END,
        window_started = CASE WHEN assistant_throttle.window_started <= %(expired)s
                    THEN %(now)s ELSE assistant_throttle.window_started END
    RETURNING hits, window_started
"""


def hit(key: str, window_s: int) -> int:
    """Count one more event under `key` in the current window; returns the count so far."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_HIT, {"key": key, "now": now, "expired": now - timedelta(seconds=window_s)})
        return cursor.fetchone()[0]


def blocked_for(key: str, limit: int, window_s: int) -> int:
    """Seconds until `key` may try again, or 0 if it is under its limit."""
    row = Throttle.objects.filter(key=key).first()
    if row is None or row.hits < limit:
        return 0
    left = (row.window_started + timedelta(seconds=window_s) - timezone.now()).total_seconds()
    return max(int(left) + 1, 0)


def clear(key: str) -> None:
    Throttle.objects.filter(key=key).delete()


def normalized_username(username: str) -> str:
    """The name as authentication reads it (Django's username field applies NFKC, so a
    fullwidth "ｖｉｃｔｉｍ" logs in as "victim"), case-folded on top: every spelling of one
    account counts against the same limit."""
    return unicodedata.normalize("NFKC", username).strip().casefold()[:150]


def account_key(username: str, address: str) -> str:
    return f"login:account:{normalized_username(username)}:{address}"


def password_change_key(user) -> str:
    return f"password-change:{user.pk}"


class UnlockOnPasswordChange:
    """Not a rule on passwords: a hook Django calls whenever a password is saved (admin, reset,
    `changepassword`). A new password lifts the account's login lock, from every address."""

    def validate(self, password, user=None) -> None:
        pass

    def password_changed(self, password, user=None) -> None:
        if user is not None and user.get_username():
            prefix = account_key(user.get_username(), "")
            Throttle.objects.filter(key__startswith=prefix).delete()
            Throttle.objects.filter(key=password_change_key(user)).delete()

    def get_help_text(self) -> str:
        return ""
