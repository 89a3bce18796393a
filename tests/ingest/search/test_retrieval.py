from __future__ import annotations

import pytest
from django.db import connection

from ingest import pipeline
from ingest.models import Chunk, Collection
from ingest.search.dense import ef_search
from ingest.search.lexical import CANDIDATE_CAP, bm25_query
from ingest.search.retrieval import Hit, prompt_passages, readable_collections_sql, search
from tests.ingest import files
from tests.support.documents import ingest_text

VACUUM = """# Routine vacuuming

Dead row versions pile up after UPDATE and DELETE. VACUUM reclaims the storage they occupy so
tables stop growing. Autovacuum runs it automatically; raise autovacuum_max_workers on busy
servers.
"""
BACKUP = """# Backups

Use pg_dump to write a logical backup of one database to a file, and pg_restore to load it.
Schedule it nightly with cron.
"""
CHINESE = """# 连接池

当并发连接过多时，数据库会拒绝新的连接。请调整 max_connections 参数，或者使用连接池来复用连接。
"""
SECRET = """# Salaries

The salary bands for 2027 are confidential. Engineers earn between 10 and 20 units.
"""


@pytest.fixture
def library(db, django_user_model):
    public = Collection.objects.create(name="Manual", is_public=True)
    private = Collection.objects.create(name="HR")
    for name, text in [("vacuum.md", VACUUM), ("backup.md", BACKUP), ("pool.md", CHINESE)]:
        ingest_text(public, name, text)
    ingest_text(private, "salaries.md", SECRET)
    reader = django_user_model.objects.create_user("reader", password="pw-reader-123")
    return public, private, reader


def paths(result) -> list[str]:
    return [hit.source_path for hit in result.hits]


def test_meaning_finds_the_passage_without_its_words(library):
    _, _, reader = library

    result = search("my table keeps getting bigger although I remove rows", user=reader)

    assert paths(result)[0] == "vacuum.md"
    assert result.hits[0].dense_rank == 1


def test_an_exact_identifier_is_found_lexically(library):
    _, _, reader = library

    result = search("autovacuum_max_workers", user=reader)

    assert paths(result)[0] == "vacuum.md"
    assert result.hits[0].lexical_rank == 1


def test_a_chinese_keyword_matches_inside_unspaced_text(library):
    _, _, reader = library

    result = search("连接池", user=reader)

    assert paths(result)[0] == "pool.md"
    assert result.hits[0].lexical_rank == 1


@pytest.mark.parametrize(
    "query",
    [
        "salary bands",
        "confidential",
        "Engineers earn between 10 and 20 units",
        "Salaries",
        "salaries.md",
        "2027",
        "工资",
    ],
)
def test_no_query_reaches_a_collection_the_user_may_not_read(library, query):
    _, private, reader = library

    mine = search(query, user=reader, k=50)
    asked_for_it = search(query, user=reader, collection_ids=[private.pk], k=50)

    assert "salaries.md" not in paths(mine)
    assert asked_for_it.hits == []


def test_an_admin_reads_everything_and_a_collection_filter_narrows(library, admin_user):
    public, _, _ = library

    everything = search("salary bands", user=admin_user)
    only_public = search("salary bands", user=admin_user, collection_ids=[public.pk])

    assert paths(everything)[0] == "salaries.md"
    assert "salaries.md" not in paths(only_public)


def test_a_question_the_documents_do_not_cover_is_flagged(library):
    _, _, reader = library

    covered = search("how do I back up a database to a file", user=reader)
    uncovered = search("what is the best recipe for chocolate cake", user=reader)

    assert not covered.low_confidence
    assert uncovered.low_confidence


def test_a_name_no_readable_passage_holds_flags_the_question_and_is_named(library, admin_user):
    _, _, reader = library

    kube = search("How do I run the backups from a Kubernetes cron job?", user=reader)
    engineers = search("How much do Engineers earn in the salary bands?", user=reader)
    as_admin = search("How much do Engineers earn in the salary bands?", user=admin_user)

    assert kube.absent_names == ["Kubernetes"] and kube.low_confidence
    # A name only a collection the reader cannot read holds is absent for them, present for
    # an admin: the notice says nothing about what others may read.
    assert engineers.absent_names == ["Engineers"]
    assert as_admin.absent_names == []


def test_pages_of_a_long_pdf_are_places_of_their_own(db):
    manual = Collection.objects.create(name="Manuals", is_public=True)
    pages = [
        f"Vacuum reclaims dead rows, step {i} of the routine maintenance plan." for i in range(6)
    ]
    submission = pipeline.submit(
        collection=manual, source_path="maintenance.pdf", data=files.pdf(pages)
    )
    pipeline.process(submission.document.pk)
    ingest_text(manual, "short.md", VACUUM)

    result = search("vacuum dead rows", user=None, collection_ids=[manual.pk], k=5, per_place=2)

    pdf_pages = {hit.page_start for hit in result.hits if hit.source_path == "maintenance.pdf"}
    assert len(pdf_pages) >= 3, "a 6-page manual is not capped like one short page"
    assert all(hit.page_start == hit.page_end for hit in result.hits if hit.page_start)


def test_one_document_cannot_fill_every_slot(db):
    manual = Collection.objects.create(name="Big", is_public=True)
    long = "\n\n".join(
        f"## Part {i}\n\nVacuum details number {i} about dead rows." for i in range(12)
    )
    ingest_text(manual, "long.md", "# Vacuum\n\n" + long)
    ingest_text(manual, "short.md", VACUUM)

    result = search("vacuum dead rows", user=None, collection_ids=[manual.pk], k=5, per_place=2)

    assert paths(result).count("long.md") <= 2
    assert "short.md" in paths(result)


def make_hit(chunk_id: int, ordinal: int, tokens: int, document_id: int = 1) -> Hit:
    return Hit(
        chunk_id, document_id, ordinal, "T", "t.md", "", ordinal, ordinal, f"text {ordinal}", tokens
    )


def test_context_merges_neighbours_and_keeps_to_the_budget():
    hits = [make_hit(1, 4, 100), make_hit(2, 5, 100), make_hit(3, 9, 100), make_hit(4, 1, 500, 2)]

    chosen = prompt_passages(hits, budget_tokens=350)

    assert [h.chunk_id for h in chosen] == [1, 3]
    assert chosen[0].text == "text 4\n\ntext 5"
    assert (chosen[0].page_start, chosen[0].page_end) == (4, 5)


def test_the_filler_of_a_question_does_not_match_passages(library):
    public, _, reader = library
    ingest_text(public, "chatter.md", "# Chatter\n\nStill, almost everyone ever wants to make it.")

    question = "why does my table still keep growing, almost as if I ever deleted"
    result = search(question, user=reader)

    lexical = {hit.source_path: hit.lexical_rank for hit in result.hits}
    assert lexical.get("chatter.md") is None
    assert lexical["vacuum.md"] == 1


def test_over_budget_the_chunks_holding_two_rare_terms_are_still_ranked(db):
    manual = Collection.objects.create(name="Big", is_public=True)
    texts = {
        "both.md": "The zeppelin carried a quokka across the bay.",
        "pair.md": "A quokka ate the marzipan.",
        "single.md": "One zeppelin, nothing else of note here.",
        "other.md": "Marzipan alone, nothing else of note here.",
    }
    for name, text in texts.items():
        ingest_text(manual, name, f"# {name}\n\n{text}")
    for i in range(6):
        ingest_text(manual, f"filler{i}.md", f"# Filler {i}\n\nRoutine maintenance note {i}.")
    allowed = readable_collections_sql(None, [manual.pk])

    def ranked(budget: int, query: str = "zeppelin quokka marzipan") -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(*bm25_query(query, allowed=allowed, limit=10, budget=budget))
            ids = [row[0] for row in cursor.fetchall()]
        by_id = dict(Chunk.objects.filter(pk__in=ids).values_list("pk", "document__source_path"))
        return [by_id[i] for i in ids]

    # Every term is in two chunks: a budget of one admits no single term, so the candidates are
    # the chunks that hold two of them, and the chunks with one term are never read.
    assert set(ranked(budget=1)) == {"both.md", "pair.md"}
    assert set(ranked(budget=100)) == {"both.md", "pair.md", "single.md", "other.md"}
    # A lone common word in six chunks: past the cap, only the cap's worth is read.
    assert len(ranked(budget=100, query="maintenance")) == 6
    assert len(ranked(budget=1, query="maintenance")) == CANDIDATE_CAP


def test_hnsw_looks_further_in_a_larger_corpus():
    assert ef_search(10_000) < ef_search(100_000) < ef_search(1_000_000)
