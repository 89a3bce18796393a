"""PDFs: the text layer of each page, made into paragraphs (pdf_text) under the bookmarks'
headings; a page without usable text but with pictures is rendered and read by OCR."""

from __future__ import annotations

import math
from contextlib import contextmanager

from django.utils.translation import gettext

from ingest.formats import PDF, Block, IngestError, Parsed, ParseLimits, check_pdf_streams
from ingest.ocr import OcrError, Reader
from ingest.parsers.pdf_text import Heading, page_paragraphs


def parse_pdf(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    import pypdfium2 as pdfium

    check_pdf_streams(data, limits=limits)
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise IngestError(
                gettext("The PDF is encrypted. Remove its password and upload it again.")
            ) from None
        raise IngestError(
            gettext("The PDF is damaged and cannot be read (%(error)s).") % {"error": error}
        ) from None
    try:
        count = len(document)
        if count > limits.max_pages:
            raise IngestError(
                gettext("The PDF has %(n)d pages; the limit is %(limit)d.")
                % {"n": count, "limit": limits.max_pages}
            )
        headings = _pdf_outline(document)
        texts: list[str] = []
        ocr_pages: list[int] = []  # numbered from 1
        for index in range(count):
            with _page(document, index) as page:
                textpage = page.get_textpage()
                texts.append(textpage.get_text_bounded())
                textpage.close()
                if needs_ocr(texts[-1]) and _has_images(page):
                    ocr_pages.append(index + 1)
        reader = Reader(max_pages=limits.max_ocr_pages, max_seconds=limits.max_ocr_seconds)
        read = 0
        try:
            for text in reader.read_all(_rendered(document, ocr_pages, limits)):
                texts[ocr_pages[read] - 1] = text
                read += 1
        except OcrError as error:
            raise IngestError(
                gettext("Page %(page)d: %(error)s") % {"page": ocr_pages[read], "error": error}
            ) from None
        title = (document.get_metadata_dict().get("Title") or "").strip()
    finally:
        document.close()
    blocks = [Block(p.text, p.headings, p.page) for p in page_paragraphs(texts, headings)]
    return Parsed(PDF, title or stem, blocks, count, ocr_pages, reader if ocr_pages else None)


def needs_ocr(text: str) -> bool:
    """A page whose text layer is empty, a few stray characters, or garbage (a font without a
    Unicode map yields private-use or replacement characters)."""
    visible = [c for c in text if not c.isspace()]
    if len(visible) < 20:
        return True
    readable = sum(c.isalnum() and not ("\ue000" <= c <= "\uf8ff") for c in visible)
    return readable < 0.5 * len(visible)


def _has_images(page) -> bool:
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))


@contextmanager
def _page(document, index: int):
    """Page `index` of the document, closed after use; pdfium's errors name the page."""
    import pypdfium2 as pdfium

    try:
        page = document[index]
        try:
            yield page
        finally:
            page.close()
    except pdfium.PdfiumError as error:
        raise IngestError(
            gettext("Page %(page)d of the PDF is damaged (%(error)s).")
            % {"page": index + 1, "error": error}
        ) from None


def _rendered(document, numbers: list[int], limits: ParseLimits):
    for number in numbers:
        with _page(document, number - 1) as page:
            yield _render(page, limits)


def _render(page, limits: ParseLimits):
    """The page as an image at 150 dpi, or less when that would pass the pixel limit."""
    width, height = page.get_size()  # points: 1/72 inch
    scale = min(150 / 72, (limits.max_pixels / max(width * height, 1)) ** 0.5)
    # pdfium rounds each side of the rendering up, which could pass the limit by a few rows.
    while math.ceil(width * scale) * math.ceil(height * scale) > limits.max_pixels:
        scale *= 0.999
    return page.render(scale=scale).to_pil()


def _pdf_outline(document) -> list[Heading]:
    """Bookmarks as headings with their paths, in outline order; empty for PDFs without them."""
    found: list[Heading] = []
    path: list[str] = []
    try:
        for item in document.get_toc(max_depth=16):
            del path[item.level :]
            path.append(item.get_title().strip())
            destination = item.get_dest()
            index = destination.get_index() if destination is not None else None
            if index is not None and path[-1]:
                found.append(Heading(index + 1, tuple(path)))
    except Exception:  # a broken outline loses the headings, never the text
        return []
    return found
