"""What a file is, judged by its bytes, not its name: the media type to parse it as, or an
IngestError that says what it is instead and what to do (an old Office format, an archive, a
program, a name that lies about its content). Also what is never a document (stylesheets,
scripts, fonts), skipped by name before anything is stored."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePath

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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
    IngestError,
    decode_text,
)

SUPPORTED = _(
    "supported types are PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), CSV, HTML, "
    "Markdown, plain text and images (PNG, JPEG, TIFF, WebP)"
)
_LEGACY_OFFICE = {
    ".doc": (_("Word document (.doc)"), ".docx"),
    ".xls": (_("Excel file (.xls)"), ".xlsx"),
    ".ppt": (_("PowerPoint file (.ppt)"), ".pptx"),
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
    PDF: _("a PDF"),
    DOCX: _("a Word document"),
    PPTX: _("a PowerPoint file"),
    XLSX: _("an Excel file"),
    CSV: _("a CSV table"),
    PNG: _("a PNG image"),
    JPEG: _("a JPEG image"),
    TIFF: _("a TIFF image"),
    WEBP: _("a WebP image"),
    HTML: "HTML",
    MARKDOWN: "Markdown",
    TEXT: _("plain text"),
}
_IMAGE_SIGNATURES = [
    (b"\x89PNG", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
]
_SIGNATURES = [
    (b"GIF8", _("a GIF image: save it as PNG")),
    (b"\x7fELF", _("a program")),
    (b"MZ", _("a Windows program")),
    (b"\x1f\x8b", _("a gzip archive")),
    (b"Rar!", _("a RAR archive")),
    (b"7z\xbc\xaf", _("a 7-Zip archive")),
    (b"OggS", _("audio")),
    (b"ID3", _("audio")),
    (b"RIFF", _("audio or video")),
]


# What a website export or a file share carries beside its documents. Never indexed: a folder
# ingest or an upload skips these and counts them. Photos and screenshots are read by OCR.
# (Pairs, not a dict keyed by the names: a lazy translation is hashed by its text, and no
# language is ready at import.)
_NOT_DOCUMENTS = [
    (_("a stylesheet"), {".css", ".scss", ".less"}),
    (_("a script"), {".js", ".mjs", ".cjs", ".map"}),
    (_("a font"), {".woff", ".woff2", ".ttf", ".otf", ".eot"}),
    (_("an icon or a drawing"), {".gif", ".svg", ".ico", ".bmp"}),
]


def not_a_document(filename: str) -> str | None:
    """What the file is when its name says it is not a document ("a stylesheet", in the active
    language), else None."""
    suffix = PurePath(filename).suffix.lower()
    return next((str(kind) for kind, suffixes in _NOT_DOCUMENTS if suffix in suffixes), None)


def sniff(data: bytes, filename: str) -> str:
    """The media type of `data`, judged by its bytes; raises IngestError for what we can't read."""
    if not data.strip():
        raise IngestError(gettext("The file is empty."))
    suffix = PurePath(filename).suffix.lower()
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # the OLE container of Office 97-2003
        kind, newer = _LEGACY_OFFICE.get(suffix, (_("Office file"), _(".docx, .xlsx or .pptx")))
        raise IngestError(
            gettext(
                "The file is an old %(kind)s, a format that is not read. Open it in Office or "
                "LibreOffice, save it as %(newer)s and upload that."
            )
            % {"kind": kind, "newer": newer}
        )
    media_type = _sniff_bytes(data)
    promised = _EXTENSION_FAMILY.get(suffix)
    family = "text" if media_type in {HTML, MARKDOWN, TEXT, CSV} else media_type
    if media_type in IMAGES and promised in IMAGES:
        promised = media_type  # a .jpg that is a PNG is still a picture to read
    if promised and promised != family:
        raise IngestError(
            gettext(
                "The file is named %(suffix)s but its content is %(content)s. Rename it to match "
                "its content and upload it again."
            )
            % {"suffix": suffix, "content": _DESCRIPTION[media_type]}
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
            raise IngestError(
                gettext("The file looks like a ZIP archive but is damaged.")
            ) from None
        if "word/document.xml" in names:
            return DOCX
        if "ppt/presentation.xml" in names:
            return PPTX
        if "xl/workbook.xml" in names:
            return XLSX
        raise IngestError(
            gettext("The file is a ZIP archive, not a document. Upload its files instead.")
        )
    for signature, media_type in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    for signature, description in _SIGNATURES:
        if head.startswith(signature):
            raise IngestError(
                gettext("The file is %(what)s; %(supported)s.")
                % {"what": description, "supported": SUPPORTED}
            )
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(
            gettext("The file is binary data of an unknown type; %(supported)s.")
            % {"supported": SUPPORTED}
        )
    sample = decode_text(data[:4096], strict=False).lstrip().lower()
    if sample.startswith(("<!doctype html", "<html")) or re.search(
        r"<(head|body|title|h1|p|div)[\s>]", sample[:1000]
    ):
        return HTML
    if re.search(r"(?m)^#{1,6} \S", sample):
        return MARKDOWN
    return TEXT
