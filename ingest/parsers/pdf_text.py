"""A PDF's page text made into paragraphs a reader would recognise.

A PDF holds lines, not paragraphs. Here the running headers and footers (the same line, numbers
aside, at the top or bottom of many pages) and bare page numbers are dropped; lines are joined into
paragraphs where a line falls short of the page's width (the last line of a paragraph, a heading,
a line of code); runs of short lines (code, lists, tables) keep their line breaks; a word
hyphenated at a line's end is joined again; a sentence cut by a page break is finished on the page
where it started; and each paragraph gets the heading path of the outline entry above it, found by
its title on the page.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

# A line shorter than this share of the page's usual full line ends a paragraph.
SHORT_LINE = 0.75
# A top or bottom line repeated (numbers aside) on this share of pages is a running header/footer.
RUNNING_SHARE = 0.3
EDGE_LINES = 2

_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:/|of)\s*\d{1,4})?$", re.I
)
_SENTENCE_END = re.compile(r"[.!?:;。！？；)\]\"”]$")
_FIRST_SENTENCE = re.compile(r"^(.*?[.!?])(?:\s+|$)", re.S)
_HYPHENS = ("-", "\u00ad", "\x02")


@dataclass
class Paragraph:
    text: str
    page: int  # 1-based
    headings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Heading:
    page: int  # 1-based
    path: tuple[str, ...]


def _shape(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower()).strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]


def running_lines(pages: list[list[str]]) -> set[str]:
    """The shapes of header and footer lines that repeat across the pages."""
    if len(pages) < 3:
        return set()
    seen = Counter(
        shape
        for lines in pages
        if len(lines) > 2 * EDGE_LINES  # a page of a few lines is all body
        for shape in {_shape(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:]}
    )
    least = max(3, RUNNING_SHARE * len(pages))
    return {shape for shape, count in seen.items() if count >= least and shape != "#"}


def _body(lines: list[str], running: set[str]) -> list[str]:
    """The page's lines without its header, footer and page number."""
    if len(lines) <= 2 * EDGE_LINES:
        return lines
    edges = set(range(EDGE_LINES)) | set(range(len(lines) - EDGE_LINES, len(lines)))
    return [
        line
        for i, line in enumerate(lines)
        if i not in edges or (_shape(line) not in running and not _PAGE_NUMBER.match(line))
    ]


def _join(left: str, right: str) -> str:
    if left.endswith(_HYPHENS) and left[-2:-1].isalpha() and right[:1].islower():
        return left[:-1] + right
    return f"{left} {right}"


def _heading_like(prose: str, line: str, titles: set[str]) -> bool:
    """A short line after finished prose that reads as a heading: an outline title of the page,
    or a few capitalised words without a full stop."""
    if _normal(line) in titles:
        return True
    return (
        bool(_SENTENCE_END.search(prose))
        and line[:1].isupper()
        and len(line.split()) <= 8
        and not _SENTENCE_END.search(line)
    )


def _paragraphs(lines: list[str], titles: set[str] = frozenset()) -> list[str]:
    if not lines:
        return []
    widths = sorted(len(line) for line in lines)
    full = widths[round(0.9 * (len(widths) - 1))]
    out: list[str] = []
    prose: str | None = None
    short_run: list[str] = []
    for line in lines:
        if len(line) >= SHORT_LINE * full:  # a full line: prose goes on
            if short_run:
                out.append("\n".join(short_run))
                short_run = []
            prose = line if prose is None else _join(prose, line)
            continue
        if prose is not None and not _heading_like(prose, line, titles):
            out.append(_join(prose, line))  # the last line of a prose paragraph
            prose = None
            continue
        if prose is not None:
            out.append(prose)
            prose = None
        short_run.append(line)
    if prose is not None:
        out.append(prose)
    if short_run:
        out.append("\n".join(short_run))
    return out


def _carry_sentences(pages: list[list[str]]) -> None:
    """A sentence cut by a page break is finished on the page where it began."""
    for before, after in pairwise(pages):
        if not before or not after or _SENTENCE_END.search(before[-1]):
            continue
        if not after[0][:1].islower():
            continue
        match = _FIRST_SENTENCE.match(after[0])
        tail = match.group(1) if match else after[0]
        before[-1] = _join(before[-1], tail)
        rest = after[0][len(tail) :].strip()
        if rest:
            after[0] = rest
        else:
            after.pop(0)


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _place_headings(paragraphs: list[Paragraph], headings: list[Heading]) -> None:
    """Each paragraph gets the path of the last outline entry above it: an entry starts at the
    paragraph that begins with its title on its page, or at the top of its page if none does."""
    by_page: dict[int, list[Heading]] = {}
    for heading in headings:
        by_page.setdefault(heading.page, []).append(heading)
    starts = [_normal(p.text)[:200] for p in paragraphs]
    current: tuple[str, ...] = ()
    first = 0
    while first < len(paragraphs):
        page = paragraphs[first].page
        end = first
        while end < len(paragraphs) and paragraphs[end].page == page:
            end += 1
        pending = []
        for heading in by_page.get(page, []):
            title = _normal(heading.path[-1])
            if title and any(start.startswith(title) for start in starts[first:end]):
                pending.append((title, heading.path))
            else:
                current = heading.path
        for i in range(first, end):
            while pending and starts[i].startswith(pending[0][0]):
                current = pending.pop(0)[1]
            paragraphs[i].headings = current
        first = end


def page_paragraphs(texts: list[str], headings: list[Heading]) -> list[Paragraph]:
    """Paragraphs of the pages' text (`texts[0]` is page 1), with their heading paths."""
    lines = [_lines(text) for text in texts]
    running = running_lines(lines)
    titles: dict[int, set[str]] = {}
    for heading in headings:
        titles.setdefault(heading.page, set()).add(_normal(heading.path[-1]))
    per_page = [
        _paragraphs(_body(page_lines, running), titles.get(number, set()))
        for number, page_lines in enumerate(lines, start=1)
    ]
    _carry_sentences(per_page)
    paragraphs = [
        Paragraph(text, number)
        for number, page in enumerate(per_page, start=1)
        for text in page
        if text.strip()
    ]
    _place_headings(paragraphs, headings)
    return paragraphs
