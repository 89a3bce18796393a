"""Terms the lexical index needs beyond PostgreSQL's English configuration.

Chinese, Japanese and Korean have no spaces, so the English parser sees a whole sentence as one
word. We index their character bigrams in a `simple` configuration instead, and do the same to
the query, so a two-character keyword matches inside unspaced text. Identifiers such as
`max_connections` or `pg_stat_activity` are also indexed whole, glued into one token
(`maxconnections`), because PostgreSQL's parser splits them at `_` and `.`: an exact identifier
then outranks its parts.
"""

from __future__ import annotations

import re

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)+\b|\b[A-Z]+[0-9]+[A-Z0-9]*\b")


# Question words that carry no topic, left out of term matching and highlighting.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
    ]
)


def format_pages(start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    if end in (None, start):
        return f"p. {start}"
    return f"pp. {start}–{end}"


def cjk_bigrams(text: str) -> list[str]:
    grams = []
    for run in CJK.findall(text):
        if len(run) == 1:
            grams.append(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return grams


def identifiers(text: str) -> list[str]:
    return [re.sub(r"[_.]", "", match.lower()) for match in IDENTIFIER.findall(text)]


def extra_terms(text: str) -> str:
    """The `search_extra` column: space-separated bigrams and identifiers."""
    return " ".join(dict.fromkeys([*cjk_bigrams(text), *identifiers(text)]))


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text))
