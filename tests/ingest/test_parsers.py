from __future__ import annotations

import tracemalloc

import pytest

from ingest.parsers import DOCX, HTML, MARKDOWN, PDF, TEXT, IngestError, ParseLimits, parse
from tests.ingest import files


def test_pdf_keeps_page_numbers_and_title():
    parsed = parse(files.pdf(["Autovacuum reclaims space.", "Checkpoints flush pages."]), "a.pdf")

    assert parsed.media_type == PDF
    assert parsed.title == "Handbook"
    assert parsed.page_count == 2
    assert [(b.page, b.text) for b in parsed.blocks] == [
        (1, "Autovacuum reclaims space."),
        (2, "Checkpoints flush pages."),
    ]


def test_encrypted_pdf_is_refused_with_the_reason():
    with pytest.raises(IngestError, match="PDF is encrypted"):
        parse(files.pdf(["secret"], password="hunter2"), "secret.pdf")


def test_broken_pdf_is_refused_as_damaged():
    data = files.pdf(["Some text"])
    with pytest.raises(IngestError, match="damaged"):
        parse(data[: len(data) // 3], "broken.pdf")


def test_a_pdf_with_neither_text_nor_pictures_of_text_says_so():
    with pytest.raises(IngestError, match="neither text nor pictures of it"):
        parse(files.pdf_without_text(), "drawings.pdf")


@pytest.mark.parametrize("variant", files.PDF_BOMB_VARIANTS)
def test_a_pdf_whose_streams_inflate_past_the_limit_is_refused_before_pdfium_reads_it(variant):
    small = files.pdf_bomb(inflated_mb=1, variant=variant)
    bomb = files.pdf_bomb(inflated_mb=20, variant=variant)
    limits = ParseLimits(max_uncompressed_bytes=10 * 2**20)

    assert [b.text for b in parse(small, "small.pdf", limits=limits).blocks] == ["Hello"]
    tracemalloc.start()
    with pytest.raises(IngestError, match="expands to more than 10 MB"):
        parse(bomb, "bomb.pdf", limits=limits)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 2**20


def test_pdf_over_the_page_limit_is_refused():
    with pytest.raises(IngestError, match="has 3 pages; the limit is 2"):
        parse(files.pdf(["a", "b", "c"]), "long.pdf", limits=ParseLimits(max_pages=2))


def test_docx_keeps_its_headings():
    data = files.docx(
        [(1, "Installation", ["Run the installer."]), (2, "On Linux", ["Use the package."])],
        title="Guide",
    )

    parsed = parse(data, "guide.docx")

    assert parsed.media_type == DOCX
    assert parsed.title == "Guide"
    assert [(b.headings, b.text) for b in parsed.blocks] == [
        (("Installation",), "Run the installer."),
        (("Installation", "On Linux"), "Use the package."),
    ]


def test_docx_decompression_bomb_is_refused_before_parsing():
    with pytest.raises(IngestError, match="decompression bomb"):
        parse(
            files.docx_bomb(300),
            "bomb.docx",
            limits=ParseLimits(max_uncompressed_bytes=200 * 2**20),
        )


def test_html_keeps_title_and_headings_and_drops_scripts_and_navigation():
    page = b"""<!doctype html><html><head><title>Upload guide</title>
    <style>p {color: red}</style><script>alert('x')</script></head><body>
    <nav><a href="/">Home</a> Menu</nav><div class="breadcrumb">Docs / Upload</div>
    <h1>Uploading</h1><p>Pick <b>several</b> files.</p>
    <h2>Limits</h2><p>At most 50 MB.</p><footer>Copyright</footer></body></html>"""

    parsed = parse(page, "upload.html")

    assert parsed.media_type == HTML
    assert parsed.title == "Upload guide"
    assert [(b.headings, b.text) for b in parsed.blocks] == [
        (("Uploading",), "Pick several files."),
        (("Uploading", "Limits"), "At most 50 MB."),
    ]


def test_markdown_keeps_headings_and_code():
    text = "# Setup\n\nInstall it.\n\n## Config\n\nSet `max_connections`.\n\n```\nSHOW all;\n```\n"

    parsed = parse(text.encode(), "setup.md")

    assert parsed.media_type == MARKDOWN
    assert parsed.title == "Setup"
    assert [(b.headings, b.text) for b in parsed.blocks] == [
        (("Setup",), "Install it."),
        (("Setup", "Config"), "Set max_connections."),
        (("Setup", "Config"), "SHOW all;"),
    ]


SIMPLIFIED = "上传文档之后，系统会自动建立索引。\n\n每个文件最大五十兆字节。"
TRADITIONAL = "上傳文件之後，系統會自動建立索引。\n\n每個檔案最大五十兆位元組。"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [("utf-8", SIMPLIFIED), ("gb18030", SIMPLIFIED), ("big5", TRADITIONAL), ("utf-16", SIMPLIFIED)],
)
def test_plain_text_in_common_encodings_including_chinese(encoding, text):
    parsed = parse(text.encode(encoding), "说明.txt")

    assert parsed.media_type == TEXT
    assert [b.text for b in parsed.blocks] == text.split("\n\n")


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.txt", "The file is empty"),
        (b"  \n\n ", "blank.md", "The file is empty"),
        (files.png(), "photo.png", "image is damaged"),
        (b"GIF89a" + b"\0" * 32, "anim.gif", "is a GIF image: save it as PNG; supported types"),
        (files.png(), "report.pdf", "is a PNG image"),
        (
            b"<html><body><p>Hello</p></body></html>",
            "report.pdf",
            "named .pdf but its content is HTML",
        ),
        (b"%PDF-1.7 not really", "notes.txt", "named .txt but its content is a PDF"),
        (b"\x00\x01\x02\x03binary", "blob.bin", "binary data of an unknown type"),
    ],
    ids=[
        "empty",
        "blank",
        "png",
        "gif",
        "png-named-pdf",
        "html-named-pdf",
        "pdf-named-txt",
        "binary",
    ],
)
def test_bad_input_gets_a_clear_error(data, name, message):
    with pytest.raises(IngestError, match=message):
        parse(data, name)


def test_bytes_decide_the_type_when_the_name_says_nothing():
    assert parse(files.pdf(["Hello there"]), "download").media_type == PDF
    assert parse(b"<!doctype html><h1>Hi</h1><p>x</p>", "page").media_type == HTML


def test_html_headings_nest_by_level_and_box_titles_are_not_sections():
    page = b"""<html><body>
    <h2>25.1. Routine Vacuuming</h2><p>Intro.</p>
    <h3>25.1.1. Basics</h3><p>Basics text.</p>
    <div class="tip"><h3 class="title">Tip</h3><p>A tip inside Basics.</p></div>
    <p>More basics.</p>
    <h3>25.1.2. Recovering Disk Space</h3><p>Space text.</p>
    <h4>25.1.2.1. Details</h4><p>Detail text.</p>
    </body></html>"""

    paths = {block.text: " › ".join(block.headings) for block in parse(page, "v.html").blocks}

    assert paths["Basics text."] == "25.1. Routine Vacuuming › 25.1.1. Basics"
    assert paths["A tip inside Basics."] == "25.1. Routine Vacuuming › 25.1.1. Basics"
    assert paths["More basics."] == "25.1. Routine Vacuuming › 25.1.1. Basics"
    assert paths["Space text."] == "25.1. Routine Vacuuming › 25.1.2. Recovering Disk Space"
    assert paths["Detail text."].endswith("25.1.2. Recovering Disk Space › 25.1.2.1. Details")


def test_markdown_with_a_raw_html_block_stays_markdown():
    source = b'# Install guide\n\n<div class="note">Back up <b>first</b>.</div>\n\nThen run it.\n'

    parsed = parse(source, "install.md")

    assert parsed.media_type == MARKDOWN
    assert parsed.title == "Install guide"
    assert [(b.text, b.headings) for b in parsed.blocks] == [
        ("Back up first .", ("Install guide",)),
        ("Then run it.", ("Install guide",)),
    ]


def test_a_docx_whose_headers_lie_is_measured_by_what_it_inflates_to():
    # The headers claim 100 KB and the CRC is that of those 100 KB: only the real size tells.
    bomb = files.docx_lying_bomb(expanded_mb=64, claimed=100 * 1024)
    tracemalloc.start()

    with pytest.raises(IngestError, match="more than 10 MB: it may be a decompression bomb"):
        parse(bomb, "report.docx", limits=ParseLimits(max_uncompressed_bytes=10 * 2**20))

    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak / 2**20:.0f} MB held while checking"


def test_a_docx_whose_headers_overstate_a_member_is_measured_by_what_it_inflates_to():
    small = files.docx_overstated(claimed_mb=64)

    parsed = parse(small, "small.docx", limits=ParseLimits(max_uncompressed_bytes=10 * 2**20))

    assert [block.text for block in parsed.blocks] == ["Only a few words."]


def test_a_docx_over_the_limit_is_refused_by_its_real_size():
    with pytest.raises(IngestError, match="more than 10 MB: it may be a decompression bomb"):
        parse(
            files.docx_bomb(20), "big.docx", limits=ParseLimits(max_uncompressed_bytes=10 * 2**20)
        )
