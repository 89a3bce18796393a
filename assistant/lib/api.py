"""What every API router shares: the checked text type and the one error shape."""

from __future__ import annotations

from typing import Annotated

from django.utils.translation import gettext as _
from pydantic import AfterValidator

from assistant.lib.invisible import has_visible


def _storable(text: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates: refuse them as invalid input."""
    if "\x00" in text:
        raise ValueError(_("must not contain NUL characters"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(_("must be valid Unicode text")) from None
    return text


def _not_blank(text: str) -> str:
    """Surrounding white space dropped; nothing visible left (white space, zero-width or control
    characters) is refused: it would still be charged."""
    if not has_visible(text):
        raise ValueError(_("must not be blank"))
    return text.strip()


# Text that people send and we store or search: checked before it reaches the database.
Text = Annotated[str, AfterValidator(_storable)]
# A question or a query: Text with something in it besides white space.
Words = Annotated[str, AfterValidator(_storable), AfterValidator(_not_blank)]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
