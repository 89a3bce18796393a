"""Real files of each type, made on the fly (only tiny text fixtures are committed)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from contextlib import contextmanager


def pdf(pages: list[str], *, title: str = "Handbook", password: str | None = None) -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.set_title(title)
    document.set_font("helvetica", size=12)
    if password is not None:
        document.set_encryption(owner_password=password, user_password=password)
    for text in pages:
        document.add_page()
        document.multi_cell(0, 8, text)
    return bytes(document.output())


def pdf_with_outline(sections: list[tuple[str, str]]) -> bytes:
    """A page per section, its title a bookmark in the PDF's outline."""
    from fpdf import FPDF

    document = FPDF()
    document.set_font("helvetica", size=12)
    for title, text in sections:
        document.add_page()
        document.start_section(title)
        document.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        document.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


PDF_BOMB_VARIANTS = ("flate", "flate-flate", "hex-flate", "endstream-inside", "cr-after-stream")


def pdf_bomb(inflated_mb: int, variant: str = "flate") -> bytes:
    """A one-page PDF whose content stream inflates to `inflated_mb` megabytes of spaces, written
    the plain way or one of the ways that once got past the stream check: two Flate filters,
    ASCIIHex over Flate, the word `endstream` inside the compressed bytes, `stream` + CR alone."""
    payload_head = b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET\n"
    filters = b"/FlateDecode"
    eol = b"\r" if variant == "cr-after-stream" else b"\n"
    if variant == "endstream-inside":
        content = _zlib_with_stored_prefix(payload_head + b"% endstream\n", inflated_mb)
    else:
        packer = zlib.compressobj(9)
        content = packer.compress(payload_head)
        for _ in range(inflated_mb):
            content += packer.compress(b" " * 2**20)
        content += packer.flush()
    if variant == "flate-flate":
        content, filters = zlib.compress(content, 9), b"[/FlateDecode /FlateDecode]"
    elif variant == "hex-flate":
        content, filters = content.hex().encode() + b">", b"[/ASCIIHexDecode /FlateDecode]"
    stream = b"<< /Length %d /Filter %s >>\nstream%s" % (len(content), filters, eol)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def _zlib_with_stored_prefix(prefix: bytes, spaces_mb: int) -> bytes:
    """A zlib stream whose first deflate block is stored (its bytes readable as they are, the
    prefix included), followed by compressed megabytes of spaces."""
    stored = zlib.compressobj(0, zlib.DEFLATED, -15)
    raw = stored.compress(prefix) + stored.flush(zlib.Z_FULL_FLUSH)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    checksum = zlib.adler32(prefix)
    for _ in range(spaces_mb):
        raw += packer.compress(b" " * 2**20)
        checksum = zlib.adler32(b" " * 2**20, checksum)
    raw += packer.flush()
    return b"\x78\x9c" + raw + checksum.to_bytes(4, "big")


def pdf_without_text(pages: int = 2) -> bytes:
    """Like a scan: pages with drawings and no text layer."""
    from fpdf import FPDF

    document = FPDF()
    for _ in range(pages):
        document.add_page()
        document.rect(20, 20, 100, 60, style="F")
    return bytes(document.output())


def docx(sections: list[tuple[int, str, list[str]]], *, title: str = "") -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    if title:
        document.core_properties.title = title
    for level, heading, paragraphs in sections:
        document.add_heading(heading, level=level)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@contextmanager
def _repacked(out: io.BytesIO, *, grow: str = "", grow_mb: int = 0):
    """A one-heading DOCX copied member by member into `out` (the member named `grow` padded
    with `grow_mb` MB of white space); the archive stays open for more members."""
    base = docx([(1, "Bomb", ["tiny"])])
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            body = source.read(item.filename)
            target.writestr(
                item.filename, body + b" " * (grow_mb * 2**20 * (item.filename == grow))
            )
        yield target


def docx_bomb(expanded_mb: int = 300) -> bytes:
    """A valid-looking DOCX whose XML expands to hundreds of MB from a few hundred KB."""
    out = io.BytesIO()
    with (
        _repacked(out) as target,
        target.open("word/padding.xml", "w", force_zip64=True) as padding,
    ):
        block = b"\0" * 2**20
        for _ in range(expanded_mb):
            padding.write(block)
    return out.getvalue()


def docx_paragraph_bomb(expanded_mb: int) -> bytes:
    """A DOCX inside the size limits whose document.xml is `expanded_mb` MB of empty paragraphs:
    small on disk, and many times that once a parser builds its tree."""
    base = docx([(1, "Bomb", ["tiny"])])
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item.filename, source.read(item.filename))
                continue
            head, tail = source.read(item.filename).split(b"<w:body>")
            with target.open(item.filename, "w", force_zip64=True) as document:
                document.write(head + b"<w:body>")
                block = b"<w:p/>" * (2**20 // 6)
                for _ in range(expanded_mb):
                    document.write(block)
                document.write(tail)
    return out.getvalue()


def docx_lying_bomb(expanded_mb: int = 64, claimed: int = 100 * 1024) -> bytes:
    """A DOCX whose headers say word/document.xml holds `claimed` bytes while it inflates to
    many MB (white space after the document's root element); its CRC is that of the bytes the
    headers claim, so a reader that believes them finds nothing wrong."""
    out = io.BytesIO()
    with _repacked(out, grow="word/document.xml", grow_mb=expanded_mb):
        pass
    with zipfile.ZipFile(out) as archive:
        real = archive.read("word/document.xml")
    return _claiming(out.getvalue(), "word/document.xml", claimed, zlib.crc32(real[:claimed]))


def docx_overstated(claimed_mb: int) -> bytes:
    """A small DOCX whose headers say word/document.xml holds `claimed_mb` MB (its CRC right)."""
    return _claiming(
        docx([(1, "Small", ["Only a few words."])]), "word/document.xml", claimed_mb * 2**20
    )


def _claiming(data: bytes, member: str, size: int, crc: int | None = None) -> bytes:
    """`data` with `member`'s uncompressed size (and CRC) rewritten in both its headers."""
    patched = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(member).header_offset
    central = patched.rfind(member.encode()) - 46  # the central directory's entry comes last
    struct.pack_into("<I", patched, local + 22, size)
    struct.pack_into("<I", patched, central + 24, size)
    if crc is not None:
        struct.pack_into("<I", patched, local + 14, crc)
        struct.pack_into("<I", patched, central + 16, crc)
    return bytes(patched)


def png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def pptx(slides: list[tuple[str, list[str], str]], *, title: str = "") -> bytes:
    """A deck made with python-pptx: each slide's (title, bullet lines, speaker notes)."""
    from pptx import Presentation

    deck = Presentation()
    deck.core_properties.title = title
    for heading, lines, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
        slide.shapes.title.text = heading
        slide.placeholders[1].text_frame.text = "\n".join(lines)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    """A workbook made with openpyxl: sheet name -> rows (the first is the header)."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ole(size: int = 4096) -> bytes:
    """The header of an Office 97-2003 file (.doc, .xls, .ppt): an OLE compound document."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * (size - 8)


def text_image(lines: list[str], *, size: int = 28, width: int = 900):
    """A screenshot-like PIL image of `lines` (Chinese too: Noto Sans CJK from the test extras)."""
    from pathlib import Path

    import manimgx_fonts_cjk
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(
        str(Path(manimgx_fonts_cjk.__file__).with_name("NotoSansCJK-VF.otf.ttc")), size, index=2
    )
    image = Image.new("RGB", (width, 60 + len(lines) * size * 2), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((40, 30 + row * size * 2), line, fill="black", font=font)
    return image


def png_of(lines: list[str]) -> bytes:
    out = io.BytesIO()
    text_image(lines).save(out, format="PNG")
    return out.getvalue()


def scanned_pdf(pages: list[list[str] | str]) -> bytes:
    """A PDF whose pages are pictures of text with no text layer, as a scanner makes them; a page
    given as a string is typed text instead."""
    from fpdf import FPDF

    document = FPDF(unit="pt", format="A4")
    for page in pages:
        document.add_page()
        if isinstance(page, str):
            document.set_font("helvetica", size=12)
            document.multi_cell(0, 16, page)
        else:
            document.image(text_image(page, size=32, width=1240), x=0, y=0, w=595)
    return bytes(document.output())


def lzw(data: bytes) -> bytes:
    """LZW as PDF writes it (9 to 12 bit codes, EarlyChange 1): a clear code, the codes, the end."""
    table = {bytes([i]): i for i in range(256)}
    codes, word = [256], b""
    for byte in data:
        candidate = word + bytes([byte])
        if candidate in table:
            word = candidate
            continue
        codes.append(table[word])
        if len(table) + 2 < 4096:
            table[candidate] = len(table) + 2
        word = bytes([byte])
    codes += [table[word], 257] if word else [257]
    bits, value, width, size, out = 0, 0, 9, 258, bytearray()
    for code in codes:
        value, bits = (value << width) | code, bits + width
        while bits >= 8:
            bits -= 8
            out.append((value >> bits) & 0xFF)
        if code != 256:
            size += 1
        if size + 1 > (1 << width) and width < 12:
            width += 1
    return bytes(out + (bytes([(value << (8 - bits)) & 0xFF]) if bits else b""))
