"""What every parser shares: the media types, the parsed form of a document (blocks of text
under their heading path), its limits, and the checks that run before a parser reads the bytes."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from charset_normalizer import from_bytes
from django.conf import settings
from django.utils.translation import gettext

from ingest import pdf_streams
from ingest.ocr import Reader

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
CSV = "text/csv"
# Images, read by OCR (ingest.ocr).
PNG, JPEG, TIFF, WEBP = "image/png", "image/jpeg", "image/tiff", "image/webp"
IMAGES = {PNG, JPEG, TIFF, WEBP}


class IngestError(Exception):
    """A document that cannot be ingested; the message is shown to the admin as is, so it is
    written (gettext) in the language active where it is raised: the pipeline makes that the
    uploader's (`Document.language`)."""


@dataclass
class Block:
    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None


@dataclass
class Parsed:
    media_type: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    page_count: int | None = None
    # Pages whose text was recognised from an image, and the reader that did it.
    ocr_pages: list[int] = field(default_factory=list)
    ocr: Reader | None = None


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


def split_paragraphs(text: str) -> list[str]:
    """Text split at blank lines, each paragraph stripped, empty ones dropped."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


@dataclass(frozen=True)
class ParseLimits:
    """What one parse may read. Built from the settings in one place (`from_settings`) and
    passed down to every parser and to the OCR reader; the defaults are the settings' own."""

    max_pages: int = 2000
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_pixels: int = 40_000_000  # per image or rendered page read by OCR
    max_text_chars: int = 64 * 2**20  # of text kept from one document
    max_ocr_pages: int = 300  # pages read by OCR in one document
    max_ocr_seconds: float = 900.0  # OCR time for one document

    @classmethod
    def from_settings(cls) -> ParseLimits:
        return cls(
            max_pages=settings.UPLOAD_MAX_PAGES,
            max_uncompressed_bytes=settings.DOCX_MAX_UNCOMPRESSED_MB * 2**20,
            max_pixels=settings.OCR_MAX_PIXELS,
            max_text_chars=settings.PARSE_MAX_TEXT_MB * 2**20,
            max_ocr_pages=settings.OCR_MAX_PAGES,
            max_ocr_seconds=settings.OCR_MAX_SECONDS,
        )


def decode_text(data: bytes, *, strict: bool = True) -> str:
    """UTF-8 first, then the best guess (GB18030, Big5, Shift-JIS, Latin-1, UTF-16 …)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    if strict:
        raise IngestError(gettext("The text encoding could not be recognised; save it as UTF-8."))
    return data.decode("utf-8", errors="replace")


MAX_ARCHIVE_MEMBERS = 10_000


def check_archive(data: bytes, *, limits: ParseLimits, kind: str) -> None:
    """Decompress every member of a ZIP-based file (DOCX today; PPTX, XLSX, EPUB tomorrow) a
    megabyte at a time, counting what it really holds: the sizes written in the archive can
    lie. Past the limit it is refused as a likely bomb; a member whose bytes do not match its
    header is damaged. Memory stays at about one megabyte whatever the file claims."""
    limit_mb = limits.max_uncompressed_bytes // 2**20
    expanded = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise IngestError(
                    gettext("The %(kind)s holds %(n)s files: too many to read.")
                    % {"kind": kind, "n": f"{len(members):,}"}
                )
            for member in members:
                crc = 0
                for chunk in _inflated(data, archive, member):
                    expanded += len(chunk)
                    if expanded > limits.max_uncompressed_bytes:
                        raise IngestError(
                            gettext(
                                "The %(kind)s expands to more than %(mb)d MB: it may be a "
                                "decompression bomb."
                            )
                            % {"kind": kind, "mb": limit_mb}
                        )
                    crc = zlib.crc32(chunk, crc)
                if crc != member.CRC:
                    raise zipfile.BadZipFile(f"Bad CRC-32 for file {member.filename!r}")
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise IngestError(
            gettext("The %(kind)s is damaged and cannot be read (%(error)s).")
            % {"kind": kind, "error": error}
        ) from None


def check_pdf_streams(data: bytes, *, limits: ParseLimits) -> None:
    """pdfium decodes each stream of a PDF whole, in memory: a PDF whose streams expand past the
    limit once decoded (counted a megabyte at a time by ingest.pdf_streams) is refused first."""
    if not pdf_streams.within(data, budget=limits.max_uncompressed_bytes):
        raise IngestError(
            gettext("The PDF expands to more than %(mb)d MB: it may be a decompression bomb.")
            % {"mb": limits.max_uncompressed_bytes // 2**20}
        )


def _inflated(data: bytes, archive: zipfile.ZipFile, member: zipfile.ZipInfo):
    """A member's bytes as they really inflate, a megabyte at a time. zipfile stops a member at
    the size its headers state, so a deflated member is inflated from its raw stream to the
    stream's end instead: a header that understates it hides nothing (the parser after us
    reads the member whole, with zipfile, and would inflate it all)."""
    if member.compress_type != zipfile.ZIP_DEFLATED or member.flag_bits & 0x1:  # or encrypted
        with archive.open(member) as stream:
            while chunk := stream.read(2**20):
                yield chunk
        return
    name_length, extra_length = struct.unpack_from("<HH", data, member.header_offset + 26)
    start = member.header_offset + 30 + name_length + extra_length
    pending = data[start : start + member.compress_size]
    inflate = zlib.decompressobj(-zlib.MAX_WBITS)
    while pending and not inflate.eof:
        yield inflate.decompress(pending, 2**20)
        pending = inflate.unconsumed_tail
