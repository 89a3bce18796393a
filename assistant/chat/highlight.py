"""Query terms marked in a passage, safely: the text is escaped before any <mark> is added."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from assistant.lib.text import CJK, cjk_bigrams, words


def terms(query: str) -> list[str]:
    """What to mark: the query's words of two letters or more, its CJK runs and their bigrams."""
    return list(
        dict.fromkeys(
            [*(w for w in words(query) if len(w) > 1), *CJK.findall(query), *cjk_bigrams(query)]
        )
    )


def _pattern(query: str) -> re.Pattern[str] | None:
    found = terms(query)
    if not found:
        return None
    parts = []
    for term in sorted(found, key=len, reverse=True):
        if CJK.search(term):
            parts.append(re.escape(escape(term)))
        else:
            # A word and its inflections: "vacuum" marks "vacuuming" too.
            parts.append(rf"(?<![&#])\b{re.escape(escape(term[: max(4, len(term) - 2)]))}\w*")
    return re.compile("|".join(parts), re.IGNORECASE)


def snippet(text: str, query: str, *, width: int = 480) -> str:
    """The part of `text` around the first match, at most `width` characters."""
    pattern = _pattern(query)
    match = pattern.search(text) if pattern else None
    if len(text) <= width:
        return text
    start = max(0, (match.start() if match else 0) - width // 3)
    end = min(len(text), start + width)
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def highlight(text: str, query: str) -> SafeString:
    escaped = escape(text)
    pattern = _pattern(query)
    if pattern is None:
        return mark_safe(escaped)
    return mark_safe(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped))
