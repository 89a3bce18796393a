"""Where e-mail goes: EMAIL_URL read into Django's settings, and the embedded default's files.

    smtp://user:password@mail.example.com:587   (smtp+tls: STARTTLS; smtp+ssl: TLS from the start)
    file:///var/mail/assistant                  (one file per message, in that folder)
    console://                                  (printed to the log)

Unset, messages are written to files under var/mail/ and each one's place is logged, so a
password reset works offline: the admin reads the link there.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends import filebased

log = logging.getLogger(__name__)

FILE_BACKEND = "assistant.lib.mail.FileBackend"


def settings_from_url(url: str, *, default_folder: Path) -> dict[str, object]:
    """The EMAIL_* settings that EMAIL_URL stands for."""
    if not url:
        return {"EMAIL_BACKEND": FILE_BACKEND, "EMAIL_FILE_PATH": str(default_folder)}
    parts = urlsplit(url)
    if parts.scheme == "file":
        return {"EMAIL_BACKEND": FILE_BACKEND, "EMAIL_FILE_PATH": unquote(parts.path)}
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in {"smtp", "smtp+tls", "smtp+ssl"} or not parts.hostname:
        raise ImproperlyConfigured(
            f"EMAIL_URL must be smtp://, smtp+tls://, smtp+ssl://, file:// or console://, "
            f"got {parts.scheme or url!r}"
        )
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": parts.port or {"smtp+ssl": 465, "smtp+tls": 587}.get(parts.scheme, 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtp+ssl",
    }


class FileBackend(filebased.EmailBackend):
    """Django's file backend, saying in the log where each batch of messages went."""

    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        if sent:
            log.info("wrote %d e-mail message(s) to %s", sent, self._fname)
        return sent
