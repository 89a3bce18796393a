"""A PDF's page text made into paragraphs: headers and footers gone, words and sentences whole,
headings from the outline where their titles stand."""

from __future__ import annotations

from ingest.parsers import parse
from ingest.parsers.pdf_text import Heading, page_paragraphs
from tests.ingest import files

WIDE = "x" * 60


def page(number: int, *lines: str) -> str:
    return "\n".join([f"Widget Manual {number}", *lines, f"Page {number} of 9"])


BODIES = [
    "Alpha starts the manual.",
    "Bravo installs it.",
    "Charlie configures it.",
    "Delta backs it up.",
    "Echo restores it.",
]


def test_running_headers_footers_and_page_numbers_are_dropped():
    bodies = [(body, f"{body} Again.", f"{body} Once more.") for body in BODIES]
    texts = [page(n, *lines) for n, lines in enumerate(bodies, start=1)]

    paragraphs = page_paragraphs(texts, [])

    text = "\n".join(p.text for p in paragraphs)
    assert "Widget Manual" not in text and "of 9" not in text
    assert all(line in text for lines in bodies for line in lines)


def test_lines_join_into_paragraphs_and_short_runs_keep_their_breaks():
    text = "\n".join(
        [
            "The widget reads its settings from a file at start-up, and a change needs a",
            "restart of the service before it is used. Hyphenated words are re-",
            "joined when a line ends in the middle of one.",
            "Examples:",
            "widget --config /etc/widget.conf",
            "widget --check",
        ]
    )

    paragraphs = [p.text for p in page_paragraphs([text], [])]

    assert paragraphs == [
        "The widget reads its settings from a file at start-up, and a change needs a restart of "
        "the service before it is used. Hyphenated words are rejoined when a line ends in the "
        "middle of one.",
        "Examples:\nwidget --config /etc/widget.conf\nwidget --check",
    ]


def test_a_sentence_cut_by_a_page_break_is_finished_on_its_first_page():
    first = "A long explanation of the backup schedule runs to the bottom of the page and then"
    second = "continues on the next page. A new sentence starts the next paragraph here, long."

    paragraphs = page_paragraphs([first, second], [])

    assert [(p.page, p.text) for p in paragraphs] == [
        (1, f"{first} continues on the next page."),
        (2, "A new sentence starts the next paragraph here, long."),
    ]


def test_headings_start_where_their_title_stands_on_the_page():
    text = "\n".join(
        [
            f"The end of the introduction, a full line of prose that runs on {WIDE}.",
            "Installing",
            f"Run the installer and follow the steps on the screen until it ends {WIDE}.",
        ]
    )
    outline = [Heading(1, ("Guide", "Introduction")), Heading(2, ("Guide", "Installing"))]

    paragraphs = page_paragraphs(["Guide\nThe introduction starts here.", text], outline)

    by_text = {p.text[:20]: p.headings for p in paragraphs}
    assert by_text["The end of the intro"] == ("Guide", "Introduction")
    assert by_text["Installing"] == ("Guide", "Installing")


def test_a_real_pdf_keeps_its_outline_as_heading_paths():
    data = files.pdf_with_outline(
        [("Backups", "Take a nightly dump."), ("Restores", "Load the dump again.")]
    )

    parsed = parse(data, "ops.pdf")

    assert [(b.page, b.headings, b.text) for b in parsed.blocks] == [
        (1, ("Backups",), "Backups"),
        (1, ("Backups",), "Take a nightly dump."),
        (2, ("Restores",), "Restores"),
        (2, ("Restores",), "Load the dump again."),
    ]
