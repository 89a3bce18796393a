"""Slides, spreadsheets and CSV, made with the libraries in the test; old Office formats get a
reason an admin can act on; a mixed folder ingests and its rows and pictures answer questions."""

from __future__ import annotations

import io
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command

from ingest.formats import MAX_ARCHIVE_MEMBERS
from ingest.models import Document
from ingest.parsers import CSV, PPTX, XLSX, IngestError, parse
from ingest.parsers.office import MAX_ROWS
from ingest.search.retrieval import search
from tests.ingest import files


def test_a_slide_is_a_page_its_title_the_heading_and_its_notes_kept():
    data = files.pptx(
        [
            ("Onboarding", ["Badge at the front desk", "Laptop from IT"], ""),
            ("Expenses", ["Submit receipts within 30 days"], "Mention the travel policy."),
        ],
        title="New starters",
    )

    parsed = parse(data, "deck.pptx")

    assert parsed.media_type == PPTX
    assert parsed.title == "New starters"
    assert parsed.page_count == 2
    assert [(b.page, b.headings, b.text) for b in parsed.blocks] == [
        (1, ("Onboarding",), "Badge at the front desk\nLaptop from IT"),
        (2, ("Expenses",), "Submit receipts within 30 days"),
        (2, ("Expenses",), "Speaker notes: Mention the travel policy."),
    ]


def test_a_sheet_is_a_section_and_each_row_keeps_its_column_names():
    data = files.xlsx(
        {
            "Prices": [
                ["Product", "Price (EUR)", "Stock"],
                ["Widget", 12.5, 40],
                ["Gadget", 99, None],
            ],
            "产品": [["名称", "价格"], ["小部件", 12.5]],
        }
    )

    parsed = parse(data, "prices.xlsx")

    assert parsed.media_type == XLSX
    rows = [(b.headings, b.text) for b in parsed.blocks]
    assert (("Prices",), "Product: Widget; Price (EUR): 12.5; Stock: 40") in rows
    assert (("Prices",), "Product: Gadget; Price (EUR): 99") in rows
    assert (("产品",), "名称: 小部件; 价格: 12.5") in rows


def test_csv_rows_keep_their_header_names_whatever_the_delimiter():
    data = "Error code;Meaning;Fix\nE42;Disk full;Free 1 GB\nE43;No network;Check the cable\n"

    parsed = parse(data.encode(), "errors.csv")

    assert parsed.media_type == CSV
    assert "Error code: E42; Meaning: Disk full; Fix: Free 1 GB" in [b.text for b in parsed.blocks]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("report.doc", r"old Word document \(\.doc\).*save it as \.docx"),
        ("budget.xls", r"old Excel file \(\.xls\).*save it as \.xlsx"),
        ("talk.ppt", r"old PowerPoint file \(\.ppt\).*save it as \.pptx"),
        ("unnamed", "old Office file.*save it as .docx, .xlsx or .pptx"),
    ],
)
def test_old_office_formats_say_to_save_as_the_newer_one(name, message):
    with pytest.raises(IngestError, match=message):
        parse(files.ole(), name)


def test_a_damaged_deck_is_refused_as_damaged():
    data = files.pptx([("A", ["b"], "")])
    with pytest.raises(IngestError, match="damaged"):
        parse(data[: len(data) // 2], "deck.pptx")


@pytest.mark.django_db(transaction=True)
def test_a_mixed_folder_ingests_and_a_spreadsheet_row_or_a_screenshot_answers(
    tmp_path, django_user_model
):
    (tmp_path / "scan.pdf").write_bytes(files.scanned_pdf([["Refunds are paid within 14 days."]]))
    (tmp_path / "dialog.png").write_bytes(files.png_of(["Error E42: the backup disk is full."]))
    (tmp_path / "deck.pptx").write_bytes(files.pptx([("Onboarding", ["Badge at the desk"], "")]))
    (tmp_path / "prices.xlsx").write_bytes(
        files.xlsx({"Prices": [["Product", "Price (EUR)"], ["Gizmotron", 1234], ["Widget", 5]]})
    )
    (tmp_path / "old.doc").write_bytes(files.ole())
    out = StringIO()

    call_command("ingest", str(tmp_path), collection="Mixed", public=True, wait=True, stdout=out)

    status = dict(Document.objects.values_list("source_path", "status"))
    assert status == {
        "scan.pdf": "ready",
        "dialog.png": "ready",
        "deck.pptx": "ready",
        "prices.xlsx": "ready",
        "old.doc": "failed",
    }
    assert "old.doc: The file is an old Word document (.doc)" in out.getvalue()
    user = django_user_model.objects.create_user("pat", password="pw-pat-123456")
    for question, source in [
        ("What is the price of the Gizmotron?", "prices.xlsx"),
        ("backup disk full error E42", "dialog.png"),
        ("How long until refunds are paid?", "scan.pdf"),
    ]:
        top = search(question, user=user, k=3).hits[0]
        assert Document.objects.get(pk=top.document_id).source_path == source, question


def test_a_zip_based_file_of_more_than_10000_members_is_refused_before_it_is_read():
    base = files.xlsx({"Prices": [["Product", "Price"], ["Widget", 12.5]]})
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for item in source.infolist():
            target.writestr(item, source.read(item))
        for n in range(MAX_ARCHIVE_MEMBERS + 1 - len(source.infolist())):
            target.writestr(f"xl/media/empty{n}.bin", b"")

    with pytest.raises(IngestError, match="holds 10,001 files: too many to read"):
        parse(out.getvalue(), "prices.xlsx")


def test_a_spreadsheet_of_200000_rows_is_read_and_one_more_is_refused():
    header = "Code,Meaning\n"
    rows = [f"E{n},Meaning {n}\n" for n in range(MAX_ROWS)]  # with the header, one too many

    fits = parse((header + "".join(rows[:-1])).encode(), "codes.csv")
    last = MAX_ROWS - 2
    assert f"Code: E{last}; Meaning: Meaning {last}" in [block.text for block in fits.blocks]
    with pytest.raises(IngestError, match="more than 200,000 rows"):
        parse((header + "".join(rows)).encode(), "codes.csv")
