"""Turn uploaded bytes into titled blocks of text with their heading path and page.

The type comes from the bytes, not the name (sniffing); each format has its module here. Every
failure is an IngestError whose message an admin can act on.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from django.utils.translation import gettext

from ingest.formats import (
    CSV,
    DOCX,
    HTML,
    IMAGES,
    MARKDOWN,
    PDF,
    PNG,
    PPTX,
    TEXT,
    XLSX,
    Block,
    IngestError,
    Parsed,
    ParseLimits,
)
from ingest.parsers import html, images, markdown, office, pdf, word
from ingest.parsers.sniffing import not_a_document, sniff

# Callers and tests name the types and the parsed form through this package.
__all__ = [
    "CSV",
    "DOCX",
    "HTML",
    "IMAGES",
    "MARKDOWN",
    "PDF",
    "PNG",
    "PPTX",
    "TEXT",
    "XLSX",
    "Block",
    "IngestError",
    "ParseLimits",
    "Parsed",
    "not_a_document",
    "parse",
    "sniff",
]

_PARSERS = {
    PDF: pdf.parse_pdf,
    DOCX: word.parse_docx,
    PPTX: office.parse_pptx,
    XLSX: office.parse_xlsx,
    CSV: office.parse_csv,
    HTML: html.parse_html,
    MARKDOWN: markdown.parse_markdown,
    TEXT: markdown.parse_text,
    **dict.fromkeys(IMAGES, images.parse_image),
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse(data: bytes, filename: str, *, limits: ParseLimits | None = None) -> Parsed:
    """The document in `data`; `limits` default to the settings' (ParseLimits.from_settings)."""
    if limits is None:
        limits = ParseLimits.from_settings()
    media_type = sniff(data, filename)
    parsed = _PARSERS[media_type](data, PurePath(filename).stem, limits)
    # PostgreSQL text cannot hold NUL, and other control characters are never meant as text.
    for block in parsed.blocks:
        block.text = _CONTROL.sub("", block.text)
        block.headings = tuple(_CONTROL.sub("", heading) for heading in block.headings)
    parsed.title = _CONTROL.sub("", parsed.title)
    parsed.blocks = [b for b in parsed.blocks if b.text.strip()]
    if sum(len(block.text) for block in parsed.blocks) > limits.max_text_chars:
        raise IngestError(
            gettext(
                "The file holds more than %(n)d million characters of text (PARSE_MAX_TEXT_MB); "
                "split it into smaller documents."
            )
            % {"n": limits.max_text_chars // 2**20}
        )
    if not parsed.blocks:
        if media_type in IMAGES or parsed.ocr_pages:
            raise IngestError(gettext("No text was recognised in the image."))
        if media_type == PDF:
            raise IngestError(
                gettext("No text found: the PDF's pages hold neither text nor pictures of it.")
            )
        raise IngestError(gettext("No text found in the file."))
    return parsed
