"""Answers to safe HTML: Markdown rendered without raw HTML, sanitized, [n] linked to sources."""

from __future__ import annotations

import re
from dataclasses import dataclass

import nh3
from django.utils.html import escape
from markdown_it import MarkdownIt

MARKER = re.compile(r"\[(\d{1,3})\]")
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "hr",
    "del",
}


@dataclass(frozen=True)
class Source:
    n: int
    url: str
    preview: str


def drop_unknown_markers(text: str, known: set[int]) -> tuple[str, int]:
    """Remove [n] markers that name no passage; return the text and how many were dropped."""
    dropped = 0

    def keep(match: re.Match[str]) -> str:
        nonlocal dropped
        if int(match.group(1)) in known:
            return match.group(0)
        dropped += 1
        return ""

    return MARKER.sub(keep, text), dropped


def used_markers(text: str) -> set[int]:
    return {int(n) for n in MARKER.findall(text)}


def render(text: str, sources: dict[int, Source]) -> str:
    html = nh3.clean(
        _markdown.render(text),
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    # Only text between tags is touched, never an attribute.
    parts = _TAG_OR_TEXT.split(html)
    for index in range(0, len(parts), 2):
        parts[index] = MARKER.sub(lambda m: _citation_link(m, sources), parts[index])
    return "".join(parts)


def _citation_link(match: re.Match[str], sources: dict[int, Source]) -> str:
    source = sources.get(int(match.group(1)))
    if source is None:
        return match.group(0)
    return (
        f'<a class="cite" href="{escape(source.url)}" data-preview="{escape(source.preview)}">'
        f"[{source.n}]</a>"
    )
