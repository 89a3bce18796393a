"""Markdown (CommonMark with tables) under its headings, and plain text as paragraphs."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from ingest.formats import (
    MARKDOWN,
    TEXT,
    Block,
    Outline,
    Parsed,
    ParseLimits,
    decode_text,
    split_paragraphs,
)


def parse_markdown(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(decode_text(data))
    blocks: list[Block] = []
    outline = Outline()
    title = ""
    level = 0
    for token in tokens:
        if token.type == "heading_open":
            level = int(token.tag[1])
        elif token.type == "inline" and level:
            text = _inline_text(token)
            outline.enter(level, text)
            title = title or text
            level = 0
        elif token.type == "inline":
            blocks.append(Block(_inline_text(token), outline.path))
        elif token.type in {"fence", "code_block"}:
            blocks.append(Block(token.content.strip(), outline.path))
        elif token.type == "html_block":  # its words count; its markup does not
            text = LexborHTMLParser(token.content).text(separator=" ")
            blocks.append(Block(" ".join(text.split()), outline.path))
    return Parsed(MARKDOWN, title or stem, blocks)


def _inline_text(token) -> str:
    parts = []
    for child in token.children or []:
        if child.type in {"text", "code_inline"}:
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
    return "".join(parts).strip()


def parse_text(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    text = decode_text(data)
    return Parsed(TEXT, stem, [Block(p) for p in split_paragraphs(text)])
