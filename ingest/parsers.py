"""Turn uploaded bytes into titled blocks of text with their heading path and page.

The type comes from the bytes, not the name. Every failure is an IngestError whose message an
admin can act on.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePath

from selectolax.lexbor import LexborHTMLParser

from ingest import office
from ingest.formats import (
    CSV,
    DOCX,
    HTML,
    IMAGES,
    JPEG,
    MARKDOWN,
    PDF,
    PNG,
    PPTX,
    TEXT,
    TIFF,
    WEBP,
    XLSX,
    Block,
    IngestError,
    Parsed,
    ParseLimits,
    check_archive,
    decode_text,
)
from ingest.ocr import OcrError, Reader
from ingest.pdf_streams import check_pdf_streams
from ingest.pdf_text import Heading, page_paragraphs

SUPPORTED = (
    "supported types are PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), CSV, HTML, "
    "Markdown, plain text and images (PNG, JPEG, TIFF, WebP)"
)
_LEGACY_OFFICE = {
    ".doc": ("Word document (.doc)", ".docx"),
    ".xls": ("Excel file (.xls)", ".xlsx"),
    ".ppt": ("PowerPoint file (.ppt)", ".pptx"),
}
# What a file name promises, for catching names that lie about binary formats.
_EXTENSION_FAMILY = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".pptx": PPTX,
    ".xlsx": XLSX,
    ".csv": "text",
    ".tsv": "text",
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".tif": TIFF,
    ".tiff": TIFF,
    ".webp": WEBP,
    ".html": "text",
    ".htm": "text",
    ".md": "text",
    ".markdown": "text",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
}
_DESCRIPTION = {
    PDF: "a PDF",
    DOCX: "a Word document",
    PPTX: "a PowerPoint file",
    XLSX: "an Excel file",
    CSV: "a CSV table",
    PNG: "a PNG image",
    JPEG: "a JPEG image",
    TIFF: "a TIFF image",
    WEBP: "a WebP image",
    HTML: "HTML",
    MARKDOWN: "Markdown",
    TEXT: "plain text",
}
_IMAGE_SIGNATURES = [
    (b"\x89PNG", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
]
_SIGNATURES = [
    (b"GIF8", "a GIF image: save it as PNG"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"OggS", "audio"),
    (b"ID3", "audio"),
    (b"RIFF", "audio or video"),
]


# What a website export or a file share carries beside its documents. Never indexed: a folder
# ingest or an upload skips these and counts them. Photos and screenshots are read by OCR.
_NOT_DOCUMENTS = {
    "a stylesheet": {".css", ".scss", ".less"},
    "a script": {".js", ".mjs", ".cjs", ".map"},
    "a font": {".woff", ".woff2", ".ttf", ".otf", ".eot"},
    "an icon or a drawing": {".gif", ".svg", ".ico", ".bmp"},
}


def not_a_document(filename: str) -> str | None:
    """What the file is when its name says it is not a document ("a stylesheet"), else None."""
    suffix = PurePath(filename).suffix.lower()
    return next((kind for kind, suffixes in _NOT_DOCUMENTS.items() if suffix in suffixes), None)


class Outline:
    """The headings above the text being read. A heading replaces those at its level or deeper,
    so two h3 in a row are siblings however the page starts (h2 first, or h1)."""

    def __init__(self) -> None:
        self._path: list[tuple[int, str]] = []

    def enter(self, level: int, text: str) -> None:
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._path)


def sniff(data: bytes, filename: str) -> str:
    """The media type of `data`, judged by its bytes; raises IngestError for what we can't read."""
    if not data.strip():
        raise IngestError("The file is empty.")
    suffix = PurePath(filename).suffix.lower()
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # the OLE container of Office 97-2003
        kind, newer = _LEGACY_OFFICE.get(suffix, ("Office file", ".docx, .xlsx or .pptx"))
        raise IngestError(
            f"The file is an old {kind}, a format that is not read. Open it in Office or "
            f"LibreOffice, save it as {newer} and upload that."
        )
    media_type = _sniff_bytes(data)
    promised = _EXTENSION_FAMILY.get(suffix)
    family = "text" if media_type in {HTML, MARKDOWN, TEXT, CSV} else media_type
    if media_type in IMAGES and promised in IMAGES:
        promised = media_type  # a .jpg that is a PNG is still a picture to read
    if promised and promised != family:
        raise IngestError(
            f"The file is named {suffix} but its content is {_DESCRIPTION[media_type]}. "
            "Rename it to match its content and upload it again."
        )
    if media_type in {TEXT, HTML} and suffix in {".md", ".markdown"}:
        return MARKDOWN  # whatever raw HTML it embeds, a Markdown file stays Markdown
    if media_type == TEXT and suffix in {".html", ".htm"}:
        return HTML
    if media_type == TEXT and suffix in {".csv", ".tsv"}:
        return CSV
    return media_type


def _sniff_bytes(data: bytes) -> str:
    head = data[:2048]
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            raise IngestError("The file looks like a ZIP archive but is damaged.") from None
        if "word/document.xml" in names:
            return DOCX
        if "ppt/presentation.xml" in names:
            return PPTX
        if "xl/workbook.xml" in names:
            return XLSX
        raise IngestError("The file is a ZIP archive, not a document. Upload its files instead.")
    for signature, media_type in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    for signature, description in _SIGNATURES:
        if head.startswith(signature):
            raise IngestError(f"The file is {description}; {SUPPORTED}.")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(f"The file is binary data of an unknown type; {SUPPORTED}.")
    sample = decode_text(data[:4096], strict=False).lstrip().lower()
    if sample.startswith(("<!doctype html", "<html")) or re.search(
        r"<(head|body|title|h1|p|div)[\s>]", sample[:1000]
    ):
        return HTML
    if re.search(r"(?m)^#{1,6} \S", sample):
        return MARKDOWN
    return TEXT


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


DEFAULT_LIMITS = ParseLimits()


def parse(data: bytes, filename: str, *, limits: ParseLimits = DEFAULT_LIMITS) -> Parsed:
    media_type = sniff(data, filename)
    stem = PurePath(filename).stem
    parsed = {
        PDF: _parse_pdf,
        DOCX: _parse_docx,
        PPTX: office.parse_pptx,
        XLSX: office.parse_xlsx,
        CSV: office.parse_csv,
        HTML: _parse_html,
        MARKDOWN: _parse_markdown,
        TEXT: _parse_text,
        **dict.fromkeys(IMAGES, _parse_image),
    }[media_type](data, stem, limits)
    # PostgreSQL text cannot hold NUL, and other control characters are never meant as text.
    for block in parsed.blocks:
        block.text = _CONTROL.sub("", block.text)
        block.headings = tuple(_CONTROL.sub("", heading) for heading in block.headings)
    parsed.title = _CONTROL.sub("", parsed.title)
    parsed.blocks = [b for b in parsed.blocks if b.text.strip()]
    if sum(len(block.text) for block in parsed.blocks) > limits.max_text_chars:
        raise IngestError(
            f"The file holds more than {limits.max_text_chars // 2**20} million characters of "
            "text (PARSE_MAX_TEXT_MB); split it into smaller documents."
        )
    if not parsed.blocks:
        if media_type in IMAGES or parsed.ocr_pages:
            raise IngestError("No text was recognised in the image.")
        if media_type == PDF:
            raise IngestError(
                "No text found: the PDF's pages hold neither text nor pictures of it."
            )
        raise IngestError("No text found in the file.")
    return parsed


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


# --- PDF -----------------------------------------------------------------------------------------


def _parse_pdf(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    import pypdfium2 as pdfium

    check_pdf_streams(data, limits=limits)
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise IngestError(
                "The PDF is encrypted. Remove its password and upload it again."
            ) from None
        raise IngestError(f"The PDF is damaged and cannot be read ({error}).") from None
    try:
        count = len(document)
        if count > limits.max_pages:
            raise IngestError(f"The PDF has {count} pages; the limit is {limits.max_pages}.")
        headings = _pdf_outline(document)
        texts, reader, ocr_pages = [], Reader(), []
        for index in range(count):
            try:
                page = document[index]
                textpage = page.get_textpage()
                text = textpage.get_text_bounded()
                textpage.close()
                if needs_ocr(text) and _has_images(page):
                    text = reader.read(_render(page, limits))
                    ocr_pages.append(index + 1)
                texts.append(text)
                page.close()
            except pdfium.PdfiumError as error:
                raise IngestError(f"Page {index + 1} of the PDF is damaged ({error}).") from None
            except OcrError as error:
                raise IngestError(f"Page {index + 1}: {error}") from None
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


def _render(page, limits: ParseLimits):
    """The page as an image at 150 dpi, or less when that would pass the pixel limit."""
    width, height = page.get_size()  # points: 1/72 inch
    scale = min(150 / 72, (limits.max_pixels / max(width * height, 1)) ** 0.5)
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


# --- images --------------------------------------------------------------------------------------


def _parse_image(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    """A screenshot, a photo or a scan: its text by OCR; each frame of a TIFF is a page."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as error:
        raise IngestError(f"The image is damaged and cannot be read ({error}).") from None
    width, height = image.size
    if width * height > limits.max_pixels:
        raise IngestError(
            f"The image is {width} × {height} pixels; the limit is "
            f"{limits.max_pixels / 1e6:.0f} megapixels (OCR_MAX_PIXELS). Scale it down."
        )
    reader, blocks = Reader(), []
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_pages:
        raise IngestError(f"The image has {frames} pages; the limit is {limits.max_pages}.")
    try:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            page = number if frames > 1 else None
            text = reader.read(frame)
            blocks.extend(Block(p, (), page) for p in _paragraphs(text))
    except OcrError as error:
        raise IngestError(str(error)) from None
    except OSError as error:
        raise IngestError(f"The image is damaged and cannot be read ({error}).") from None
    media_type = Image.MIME.get(image.format or "", PNG)
    return Parsed(media_type, stem, blocks, frames, list(range(1, frames + 1)), reader)


# --- DOCX ----------------------------------------------------------------------------------------


def _parse_docx(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_archive(data, limits=limits, kind="DOCX")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:
        raise IngestError(f"The Word document is damaged and cannot be read ({error}).") from None
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


# --- HTML ----------------------------------------------------------------------------------------

_SKIP = {
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "template",
    "button",
    "select",
    "head",
}
_BOILERPLATE = re.compile(r"nav|breadcrumb|sidebar|menu|footer|cookie|banner|skip", re.I)
_BLOCK = {
    "p",
    "li",
    "pre",
    "dt",
    "dd",
    "blockquote",
    "caption",
    "figcaption",
    "div",
    "section",
    "article",
    "main",
    "body",
    "html",
    "table",
    "tr",
    "ul",
    "ol",
    "dl",
    "tbody",
    "thead",
    "figure",
    "address",
    "details",
    "summary",
    "hr",
}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def _parse_html(data: bytes, stem: str, limits: ParseLimits) -> Parsed:

    tree = LexborHTMLParser(decode_text(data))
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node else ""
    blocks: list[Block] = []
    outline = Outline()
    buffer: list[str] = []

    def flush(preformatted: bool = False) -> None:
        text = "".join(buffer)
        buffer.clear()
        text = text.strip() if preformatted else " ".join(text.split())
        if text:
            blocks.append(Block(text, outline.path))

    def walk(node) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                buffer.append(child.text_content or "")
            elif tag in _SKIP or _is_boilerplate(child):
                continue
            elif tag in _HEADINGS and _in_admonition(child):
                # "Tip", "Note": the title of a box inside the section, not a new section.
                flush()
                walk(child)
                flush()
            elif tag in _HEADINGS:
                flush()
                text = " ".join(child.text().split())
                if text:
                    outline.enter(_HEADINGS[tag], text)
            elif tag == "pre":
                flush()
                buffer.append(child.text())
                flush(preformatted=True)
            elif tag == "br":
                buffer.append("\n")
            elif tag in {"td", "th"}:
                # A table row reads as one line: "cell | cell | cell".
                walk(child)
                buffer.append(" | ")
            elif tag in _BLOCK:
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    body = tree.body or tree.root
    if body is not None:
        walk(body)
        flush()
    if not title:
        first = tree.css_first("h1")
        title = " ".join(first.text().split()) if first else stem
    return Parsed(HTML, title, blocks)


_ADMONITION = re.compile(r"\b(tip|note|warning|caution|important|admonition|callout)\b", re.I)


def _in_admonition(heading) -> bool:
    parent = heading.parent
    return parent is not None and bool(_ADMONITION.search(parent.attributes.get("class") or ""))


def _is_boilerplate(node) -> bool:
    attributes = node.attributes
    if attributes.get("role") in {"navigation", "banner", "contentinfo"}:
        return True
    marker = f"{attributes.get('class') or ''} {attributes.get('id') or ''}"
    return bool(marker.strip()) and bool(_BOILERPLATE.search(marker))


# --- Markdown and text ---------------------------------------------------------------------------


def _parse_markdown(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
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


def _parse_text(data: bytes, stem: str, limits: ParseLimits) -> Parsed:
    text = decode_text(data)
    return Parsed(TEXT, stem, [Block(p) for p in _paragraphs(text)])
