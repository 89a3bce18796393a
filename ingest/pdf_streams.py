"""Before pdfium reads a PDF: how much its streams hold once decoded.

pdfium decodes a stream whole, in memory, so a page whose content inflates to a gigabyte takes
a gigabyte. Each stream is found the way a reader finds it (`stream` then CRLF, LF or CR; its
/Length when that lands on `endstream`, else the next `endstream`) and decoded through every
filter of its chain (Flate, LZW, ASCIIHex, ASCII85, RunLength, in any order and number) a
megabyte at a time, counting what it really holds; past the budget the count stops, and
`formats.check_pdf_streams` refuses the file as a likely bomb. Image codecs (DCT, JPX, JBIG2,
CCITT) end a chain: their pixels are bounded where a page is rendered. What this cannot see (an
encrypted stream) is bounded by the parse's own memory limit (ingest.isolation).
"""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable, Iterator

MB = 2**20
_STREAM = re.compile(rb"(?<!end)stream(?:\r\n|\n|\r)")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[^\s/\[\]<>()]+)")
_NAME = re.compile(rb"/([^\s/\[\]<>()]+)")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?:\s+(\d+)\s+R)?")
_WHITESPACE = b" \t\r\n\f\0"
_ABBREVIATIONS = {
    "Fl": "FlateDecode",
    "LZW": "LZWDecode",
    "AHx": "ASCIIHexDecode",
    "A85": "ASCII85Decode",
    "RL": "RunLengthDecode",
}

Chunks = Iterator[bytes]


class _TooBig(Exception):
    pass


def within(data: bytes, *, budget: int) -> bool:
    """Whether the streams of a PDF hold at most `budget` bytes in all once decoded."""
    expanded = 0
    position = 0
    while match := _STREAM.search(data, position):
        head = data[data.rfind(b"obj", 0, match.start()) + 3 : match.start()]
        start = match.end()
        end = _body_end(data, start, head)
        try:
            expanded += _decoded_size(
                memoryview(data)[start:end], _filters(head), budget - expanded
            )
        except _TooBig:
            return False
        position = max(end, start)
    return True


def _filters(head: bytes) -> list[str]:
    found = _FILTER.search(head)
    if not found:
        return []
    names = [name.decode("latin-1") for name in _NAME.findall(found.group(1))]
    return [_ABBREVIATIONS.get(name, name) for name in names]


def _body_end(data: bytes, start: int, head: bytes) -> int:
    """Where the stream's bytes end: at its /Length when `endstream` follows there (the body
    may hold the word itself), else at the next `endstream`."""
    if (length := _length(data, head)) is not None:
        end = start + length
        if data[end : end + 64].lstrip(_WHITESPACE).startswith(b"endstream"):
            return end
    end = data.find(b"endstream", start)
    return end if end != -1 else len(data)


def _length(data: bytes, head: bytes) -> int | None:
    found = _LENGTH.search(head)
    if not found:
        return None
    if found.group(2) is None:
        return int(found.group(1))
    target = re.search(
        rb"(?<!\d)%s\s+%s\s+obj\s*(\d+)\s*endobj" % (found.group(1), found.group(2)), data
    )
    return int(target.group(1)) if target else None


def _decoded_size(body: memoryview, filters: list[str], budget: int) -> int:
    chunks: Chunks = (bytes(body[i : i + MB]) for i in range(0, len(body), MB))
    for name in filters:
        decoder = _DECODERS.get(name)
        if decoder is None:
            break  # an image codec, or one pdfium does not know: nothing more to count
        chunks = decoder(chunks)
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > budget:
            raise _TooBig
    return total


def _inflate(chunks: Chunks) -> Chunks:
    inflater = zlib.decompressobj()
    try:
        for chunk in chunks:
            out = inflater.decompress(chunk, MB)
            while out:
                yield out
                out = inflater.decompress(inflater.unconsumed_tail, MB)
            if inflater.eof:
                return
    except zlib.error:
        return  # damaged from here on: pdfium keeps what came before, and so do we


def _unhex(chunks: Chunks) -> Chunks:
    pending = b""
    for chunk in chunks:
        text = pending + chunk.translate(None, _WHITESPACE)
        end = text.find(b">")
        text = text[:end] if end != -1 else text
        even = len(text) // 2 * 2
        try:
            yield bytes.fromhex(text[:even].decode("latin-1"))
        except ValueError:
            return
        pending = text[even:]
        if end != -1:
            break
    if pending:
        yield bytes.fromhex((pending + b"0").decode("latin-1"))


def _un85(chunks: Chunks) -> Chunks:
    pending = b""
    for chunk in chunks:
        text = pending + chunk.translate(None, _WHITESPACE).replace(b"z", b"!!!!!")
        end = text.find(b"~")
        text = text[:end] if end != -1 else text
        whole = len(text) // 5 * 5
        try:
            yield base64.a85decode(text[:whole])
            if end != -1:
                yield base64.a85decode(text[whole:])
                return
        except ValueError:
            return
        pending = text[whole:]
    if pending:
        yield base64.a85decode(pending)


def _unrun(chunks: Chunks) -> Chunks:
    pending = b""
    for chunk in chunks:
        data = pending + chunk
        out = bytearray()
        i = 0
        while i < len(data):
            length = data[i]
            if length == 128:
                yield bytes(out)
                return
            need = length + 2 if length < 128 else 2
            if i + need > len(data):
                break
            out += data[i + 1 : i + need] if length < 128 else data[i + 1 : i + 2] * (257 - length)
            i += need
            if len(out) >= MB:
                yield bytes(out)
                out.clear()
        pending = data[i:]
        yield bytes(out)


def _unlzw(chunks: Chunks) -> Chunks:
    """LZW as PDF writes it: codes of 9 to 12 bits, most significant first, 256 clears the
    table, 257 ends; the code width grows one code early (EarlyChange 1, the default)."""
    table = [bytes([i]) for i in range(256)] + [b"", b""]
    width, previous, bits, value = 9, b"", 0, 0
    out = bytearray()
    for chunk in chunks:
        for byte in chunk:
            value = (value << 8) | byte
            bits += 8
            while bits >= width:
                bits -= width
                code = (value >> bits) & ((1 << width) - 1)
                value &= (1 << bits) - 1
                if code == 256:
                    table, width, previous = table[:258], 9, b""
                    continue
                if code == 257:
                    yield bytes(out)
                    return
                if code < len(table):
                    entry = table[code]
                elif code == len(table) and previous:
                    entry = previous + previous[:1]
                else:
                    yield bytes(out)
                    return  # damaged
                if previous and len(table) < 4096:
                    table.append(previous + entry[:1])
                previous = entry
                out += entry
                if len(table) + 1 >= (1 << width) and width < 12:
                    width += 1
                if len(out) >= MB:  # a code makes up to 4 KB: yield often
                    yield bytes(out)
                    out.clear()
    yield bytes(out)


_DECODERS: dict[str, Callable[[Chunks], Chunks]] = {
    "FlateDecode": _inflate,
    "LZWDecode": _unlzw,
    "ASCIIHexDecode": _unhex,
    "ASCII85Decode": _un85,
    "RunLengthDecode": _unrun,
}
