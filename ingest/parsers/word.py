"""Word documents (.docx): paragraphs under their heading styles, tables as rows."""

from __future__ import annotations

import io
import re

from django.utils.translation import gettext

from ingest.formats import DOCX, Block, IngestError, Outline, Parsed, ParseLimits, check_archive


def parse_docx(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_archive(data, limits=limits, kind="DOCX")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:
        raise IngestError(
            gettext("The Word document is damaged and cannot be read (%(error)s).")
            % {"error": error}
        ) from None
    outline = Outline()
    blocks: list[Block] = []
    title = (document.core_properties.title or "").strip()
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [cell.text.strip() for cell in row.cells]
                if any(cells):
                    blocks.append(Block(" | ".join(dict.fromkeys(cells)), outline.path))
            continue
        assert isinstance(item, Paragraph)
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        level = _heading_level(style)
        if level is None:
            blocks.append(Block(text, outline.path))
            continue
        title = title or text
        outline.enter(level, text)
    return Parsed(DOCX, title or stem, blocks)


def _heading_level(style: str) -> int | None:
    if style == "Title":
        return 1
    match = re.match(r"Heading (\d)", style)
    return int(match.group(1)) if match else None
