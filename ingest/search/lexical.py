"""Chunks by their words: BM25 over the tsvector column and the lexical statistics that
ingestion keeps (`ingest_lexeme`, `ingest_lexicaltotals`), and how much of a question its best
passages cover."""

from __future__ import annotations

import re

from django.db import connections

from assistant.lib.text import STOP_WORDS, WORD, cjk_bigrams, identifiers, simple_terms, topic_words
from ingest.tokens import count_tokens

# BM25 over the tsvector column. The query's lexemes (English stems of its topic words, plus the
# CJK bigrams and identifiers indexed in `simple`) are weighted by IDF from ingest_lexeme; lexemes
# too common to tell passages apart are dropped. Scoring reads each candidate's tsvector (about
# 17 us a candidate), so the candidates are bounded: the GIN index finds the chunks holding the
# rarest lexemes, adding lexemes from the rarest up while their document frequencies sum to at
# most CANDIDATE_BUDGET. A chunk holding only the commoner lexemes could not outscore those
# anyway; the rest still score. When even the rarest lexeme is too common (a large corpus), the
# candidates are the chunks holding two of the three rarest, which are the ones that can rank.
# Whatever the query, at most CANDIDATE_CAP times the budget are read (the first found, in table
# order): a safety valve for very common words in a large corpus, where dense search leads.
K1 = 1.2
B = 0.75
MIN_IDF = 0.5
CANDIDATE_BUDGET = 500
CANDIDATE_CAP = 2

BM25_SQL = """
WITH q AS (
    SELECT unnest(tsvector_to_array(to_tsvector('english', %s))) AS lexeme
    UNION SELECT unnest(%s::text[])
), totals AS (
    SELECT greatest(chunks, 1) AS n, greatest(length, 1)::float8 / greatest(chunks, 1) AS avglen
    FROM ingest_lexicaltotals LIMIT 1
), useful AS (
    SELECT l.lexeme, l.df, ln(1 + (totals.n - l.df + 0.5) / (l.df + 0.5)) AS idf,
           sum(l.df) OVER (ORDER BY l.df, l.lexeme) AS upto,
           row_number() OVER (ORDER BY l.df, l.lexeme) AS nth
    FROM ingest_lexeme l JOIN q USING (lexeme), totals
    WHERE l.df > 0 AND ln(1 + (totals.n - l.df + 0.5) / (l.df + 0.5)) > %s
), budget AS (SELECT %s::bigint AS chunks
), tsq AS (
    SELECT CASE
        WHEN (SELECT df FROM useful WHERE nth = 1) <= budget.chunks
          OR (SELECT count(*) FROM useful) = 1
        THEN (SELECT string_agg(quote_literal(lexeme), ' | ') FROM useful
              WHERE upto <= budget.chunks OR nth = 1)
        ELSE (SELECT string_agg(format('(%%s & %%s)', quote_literal(x.lexeme),
                                       quote_literal(y.lexeme)), ' | ')
              FROM useful x JOIN useful y ON x.nth < y.nth WHERE y.nth <= 3)
    END::tsquery AS query
    FROM budget
), candidates AS (
    SELECT c.id, c.document_id, c.page_start, c.search_vector, length(c.search_vector) AS len
    FROM ingest_chunk c, tsq
    WHERE c.collection_id IN ({allowed}) AND c.search_vector @@ tsq.query
    LIMIT %s
)
SELECT candidates.id,
       sum(useful.idf * array_length(u.positions, 1) * (%s + 1)
           / (array_length(u.positions, 1) + %s * (1 - %s + %s * candidates.len / totals.avglen)))
           AS score,
       candidates.document_id, candidates.page_start
FROM candidates
-- Only the query's lexemes are unnested: mark them A, keep the As (positions are kept).
CROSS JOIN LATERAL unnest(ts_filter(setweight(
    setweight(candidates.search_vector, 'D'), 'A', (SELECT array_agg(lexeme) FROM useful)
), '{{a}}')) u
JOIN useful ON useful.lexeme = u.lexeme
CROSS JOIN totals
GROUP BY candidates.id, candidates.document_id, candidates.page_start
ORDER BY score DESC
LIMIT %s
"""


def bm25_query(
    query: str, *, allowed: tuple[str, tuple], limit: int, budget: int = CANDIDATE_BUDGET
) -> tuple[str, list]:
    """The BM25 statement and its parameters, for the collections `allowed` selects; `budget`
    bounds the candidates scored (see CANDIDATE_BUDGET)."""
    allowed_sql, allowed_params = allowed
    return BM25_SQL.format(allowed=allowed_sql), [
        topic_words(query),
        simple_terms(query),
        MIN_IDF,
        budget,
        *allowed_params,
        CANDIDATE_CAP * budget,
        K1,
        K1,
        B,
        B,
        limit,
    ]


# CJK bigrams the corpus never holds are mostly pairs straddling two words: they say nothing
# about coverage and would sink every Chinese question, so only known bigrams count. An absent
# English word or identifier does count: it names something the documents lack.
COVERAGE_SQL = """
WITH q AS (
    SELECT unnest(tsvector_to_array(to_tsvector('english', %s))) AS lexeme
    UNION SELECT unnest(%s::text[])
    UNION SELECT lexeme FROM ingest_lexeme WHERE lexeme = ANY(%s) AND df > 0
), totals AS (SELECT greatest(chunks, 1) AS n FROM ingest_lexicaltotals LIMIT 1)
SELECT coalesce(sum(w.idf) FILTER (WHERE w.found) / nullif(sum(w.idf), 0), 0)
FROM (
    SELECT ln(1 + (totals.n - coalesce(l.df, 0) + 0.5) / (coalesce(l.df, 0) + 0.5)) AS idf,
           EXISTS (SELECT 1 FROM ingest_chunk c WHERE c.id = ANY(%s)
                   AND c.search_vector @@ quote_literal(q.lexeme)::tsquery) AS found
    FROM q CROSS JOIN totals LEFT JOIN ingest_lexeme l USING (lexeme)
) w
"""


def coverage(query: str, chunk_ids: list[int], *, using: str) -> float:
    """The share of the question's IDF weight that its top passages contain. A word the corpus
    never uses weighs most, so a question about something absent scores low."""
    if not chunk_ids:
        return 0.0
    with connections[using].cursor() as cursor:
        cursor.execute(
            COVERAGE_SQL, [topic_words(query), identifiers(query), cjk_bigrams(query), chunk_ids]
        )
        return float(cursor.fetchone()[0] or 0.0)


# A name the question gives that no readable passage holds (a product, a tool, a version) is the
# surest sign the documents do not cover it: "InnoDB", "Kubernetes", "19c", "matplotlib". A word
# reads as a name when it has a capital inside or a digit, is capitalised mid-sentence, or is a
# word the multilingual tokenizer does not know (three or more pieces, not an inflected form);
# ordinary words a manual happens not to use ("tilt", "colleague"), years and units are not.
# Quoted text and paths are the user's own (a file name, a message, "America/New_York").
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|‘[^’]*’|“[^”]*”|\S+/\S+")
NAME_PIECES = 3
# An English word form ("vanishes", "squashed") splits into pieces too, but is no name.
_INFLECTIONS = ("s", "ed", "ing", "ly", "er", "est")
ABSENT_SQL = """
SELECT w.word FROM unnest(%s::text[]) AS w(word)
WHERE numnode(plainto_tsquery('english', w.word)) > 0
  AND NOT EXISTS (
      SELECT 1 FROM ingest_chunk c
      WHERE c.collection_id IN ({allowed}) AND c.search_vector @@ plainto_tsquery('english', w.word)
  )
"""


def name_like(question: str) -> list[str]:
    """The words of the question that read as names (see above), in order."""
    text = _QUOTED.sub(" ", question)
    found = []
    for match in WORD.finditer(text):
        word = match.group(0)
        if word.lower() in STOP_WORDS or word in found:
            continue
        if word.isdigit() or (word.isupper() and len(word) <= 2):  # a year, a unit ("GB")
            continue
        before = text[: match.start()].rstrip()
        capitalised = word[:1].isupper() and bool(before) and not before.endswith((".", "?", "!"))
        unknown = count_tokens(word) >= NAME_PIECES and not word.lower().endswith(_INFLECTIONS)
        if (
            any(c.isupper() for c in word[1:])
            or any(c.isdigit() for c in word)
            or capitalised
            or unknown
        ):
            found.append(word)
    return found


def absent_names(question: str, *, allowed: tuple[str, tuple], using: str) -> list[str]:
    """The names the question gives that no passage of the `allowed` collections holds."""
    names = name_like(question)
    if not names:
        return []
    allowed_sql, allowed_params = allowed
    with connections[using].cursor() as cursor:
        cursor.execute(ABSENT_SQL.format(allowed=allowed_sql), [names, *allowed_params])
        absent = {row[0] for row in cursor.fetchall()}
    return [name for name in names if name in absent]
