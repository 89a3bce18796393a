from __future__ import annotations

import base64
import zlib

import pytest

from ingest.formats import IngestError, ParseLimits, check_pdf_streams
from tests.ingest import files

TEXT = b"BT /F1 12 Tf 72 712 Td (Every filter of the chain is decoded.) Tj ET\n" * 3000


def pdf_stream(content: bytes, filters: bytes) -> bytes:
    return (
        b"%%PDF-1.4\n4 0 obj\n<< /Length %d /Filter %s >>\nstream\n" % (len(content), filters)
        + content
        + b"\nendstream\nendobj\n"
    )


@pytest.mark.parametrize(
    ("filters", "encode"),
    [
        (b"/FlateDecode", zlib.compress),
        (b"/LZWDecode", files.lzw),
        (b"/ASCIIHexDecode", lambda data: data.hex().encode() + b">"),
        (b"/ASCII85Decode", lambda data: base64.a85encode(data) + b"~>"),
        (b"/RunLengthDecode", lambda data: bytes([127]) + data[:128] + bytes([129, 32, 128])),
        (b"[/AHx /Fl]", lambda data: zlib.compress(data).hex().encode() + b">"),
        (b"[/FlateDecode /LZWDecode]", lambda data: zlib.compress(files.lzw(data))),
    ],
)
def test_each_filter_is_decoded_to_what_the_stream_really_holds(filters, encode):
    data = pdf_stream(encode(TEXT), filters)
    holds = len(TEXT) if b"RunLength" not in filters else 128 + 128

    check_pdf_streams(data, limits=ParseLimits(max_uncompressed_bytes=holds))
    with pytest.raises(IngestError, match="decompression bomb"):
        check_pdf_streams(data, limits=ParseLimits(max_uncompressed_bytes=holds - 1))


def test_an_image_codec_ends_the_chain_and_is_left_to_the_page_limits():
    data = pdf_stream(zlib.compress(b"\xff" * 2**20), b"[/FlateDecode /DCTDecode]")

    check_pdf_streams(data, limits=ParseLimits(max_uncompressed_bytes=2**20))
