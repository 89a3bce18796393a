"""Slides, spreadsheets and CSV, made with the libraries in the test; old Office formats get a
reason an admin can act on."""

from __future__ import annotations

import pytest

from ingest.parsers import CSV, PPTX, XLSX, IngestError, parse
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
