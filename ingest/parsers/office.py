"""Slides and spreadsheets as blocks of text: a slide is a page (its title the heading, its
speaker notes included), a sheet a section whose rows keep their column names, so a question
about "the price of X" finds X's row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from django.utils.translation import gettext

from ingest.formats import (
    CSV,
    PPTX,
    XLSX,
    Block,
    IngestError,
    Parsed,
    ParseLimits,
    check_archive,
    decode_text,
)

# Rows of one spreadsheet (all sheets together) read at most; past it the file is refused.
MAX_ROWS = 200_000


def parse_pptx(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    from pptx import Presentation

    check_archive(data, limits=limits, kind=gettext("PowerPoint file"))
    try:
        presentation = Presentation(io.BytesIO(data))
    except Exception as error:
        raise IngestError(
            gettext("The PowerPoint file is damaged and cannot be read (%(error)s).")
            % {"error": error}
        ) from None
    slides = list(presentation.slides)
    if len(slides) > limits.max_pages:
        raise IngestError(
            gettext("The presentation has %(n)d slides; the limit is %(limit)d.")
            % {"n": len(slides), "limit": limits.max_pages}
        )
    blocks: list[Block] = []
    first_title = ""
    for number, slide in enumerate(slides, start=1):
        title_shape = slide.shapes.title
        title = (title_shape.text_frame.text.strip() if title_shape is not None else "") or (
            f"Slide {number}"
        )
        first_title = first_title or (title if title_shape is not None else "")
        for text in _shape_texts(slide.shapes, skip=title_shape):
            blocks.append(Block(text, (title,), number))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                blocks.append(Block(f"Speaker notes: {notes.text.strip()}", (title,), number))
        if not any(b.page == number for b in blocks) and title_shape is not None:
            blocks.append(Block(title, (), number))  # a title-only slide still says something
    title = (presentation.core_properties.title or "").strip() or first_title or stem
    return Parsed(PPTX, title, blocks, len(slides))


def _shape_texts(shapes, *, skip=None) -> Iterator[str]:
    """The text of every shape in reading order (top to bottom, left to right), tables as rows,
    groups opened."""
    ordered = sorted(shapes, key=lambda s: ((s.top or 0), (s.left or 0)))
    for shape in ordered:
        if skip is not None and shape.shape_id == skip.shape_id:
            continue
        if shape.shape_type == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                cells = [cell.text.strip() for cell in row.cells]
                if any(cells):
                    yield " | ".join(cells)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = "\n".join(p.text.strip() for p in shape.text_frame.paragraphs if p.text.strip())
            if text:
                yield text


def parse_xlsx(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    import openpyxl

    check_archive(data, limits=limits, kind=gettext("Excel file"))
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:
        raise IngestError(
            gettext("The Excel file is damaged and cannot be read (%(error)s).") % {"error": error}
        ) from None
    try:
        blocks: list[Block] = []
        for sheet in workbook.worksheets:
            rows = (row for row in sheet.iter_rows(values_only=True))
            blocks.extend(_table_blocks(rows, sheet.title, budget=MAX_ROWS - len(blocks)))
        title = (workbook.properties.title or "").strip() or stem
    finally:
        workbook.close()
    return Parsed(XLSX, title, blocks)


def parse_csv(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    text = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = csv.reader(io.StringIO(text), dialect)
    return Parsed(CSV, stem, list(_table_blocks(rows, stem, budget=MAX_ROWS)))


def _table_blocks(rows: Iterable, section: str, *, budget: int) -> Iterator[Block]:
    """One block per row: "Header: value; Header: value", under the sheet's name. The first
    row with text is the header; a column without a name is called by its letter."""
    header: list[str] | None = None
    for count, row in enumerate(rows):
        if count >= budget:
            raise IngestError(
                gettext("The spreadsheet has more than %(n)s rows; split it into smaller files.")
                % {"n": f"{MAX_ROWS:,}"}
            )
        cells = ["" if value is None else str(value).strip() for value in row]
        if not any(cells):
            continue
        if header is None:
            header = [name or _column_letter(i) for i, name in enumerate(cells)]
            continue
        pairs = [
            f"{header[i] if i < len(header) else _column_letter(i)}: {value}"
            for i, value in enumerate(cells)
            if value
        ]
        yield Block("; ".join(pairs), (section,))
    if header is not None and budget > 0:
        yield Block("Columns: " + ", ".join(header), (section,))


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
