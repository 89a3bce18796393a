from __future__ import annotations

from ingest.search.evaluation import Location, gate_rates, gold_rank, score

LOCATIONS = [
    Location("guide.pdf", 3, 3),
    Location("other.html"),
    Location("guide.pdf", 56, 57),
    Location("guide.pdf", 9, 9),
]


def test_page_gold_is_found_by_the_passage_that_covers_the_page():
    assert gold_rank("guide.pdf#p57", LOCATIONS) == 3
    assert gold_rank("guide.pdf#p4", LOCATIONS) is None
    assert gold_rank("other.pdf#p3", LOCATIONS) is None


def test_document_gold_ranks_among_distinct_documents():
    assert gold_rank("guide.pdf", LOCATIONS) == 1
    assert gold_rank("other.html", LOCATIONS) == 2


def test_recall_and_mrr_take_the_best_gold():
    rows = [{"gold": ["guide.pdf#p9", "guide.pdf#p56"], "locations": LOCATIONS}]

    scores = score(rows, k=2)

    assert scores["recall"] == 0.0 and scores["mrr"] == 1 / 3


def test_gate_rates_are_split_by_language_and_kind():
    rows = [
        {"lang": "en", "not_covered": True},
        {"lang": "en", "not_covered": False},
        {"lang": "zh", "not_covered": True, "unanswerable": True},
    ]

    rates = gate_rates(rows)

    assert rates["overall"] == {
        "answerable": 2,
        "answerable_flagged": 1,
        "unanswerable": 1,
        "unanswerable_flagged": 1,
    }
    assert rates["lang=zh"]["unanswerable_flagged"] == 1
    assert rates["lang=en"]["answerable"] == 2
