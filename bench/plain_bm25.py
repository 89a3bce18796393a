"""The reference point for the retrieval targets: plain BM25 over 300-word chunks.

    bench/fetch_corpora.sh   # once
    .venv/bin/python bench/plain_bm25.py [--corpus bench/corpora/pg15]
                                         [--questions bench/questions/pg15.jsonl] [--words 300]

The issue's targets are stated against "a plain BM25 over 300-word chunks" on questions we do not
see. This runs that baseline on our own dev questions, so the product's figures from
`manage.py evaluate` can be read against it: how much harder our questions are than theirs, and
how much the product adds. Text comes from the product's own parser (the same words the product
indexes); tokens are lowercased words, no stemming, no stop words (IDF weighs them down); BM25 with
k1 = 1.2, b = 0.75; chunks ranked by score, read until ten distinct documents are seen; scored by
`evaluate`'s own `summarise` (so page gold, `manual.pdf#p57`, is scored by the chunks' pages).
Needs no database. English questions only (plain BM25 cannot split Chinese into words).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path

from common import ROOT, setup_django_without_database, stamp

from ingest.search.evaluation import Location, summarise

K1, B = 1.2, 0.75


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def chunks(corpus: Path, words: int) -> list[tuple[Location, Counter, int]]:
    from ingest.parsers import parse

    out = []
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        parsed = parse(path.read_bytes(), path.name)
        text = [(word, block.page) for block in parsed.blocks for word in block.text.split()]
        for start in range(0, max(1, len(text)), words):
            piece = text[start : start + words]
            pages = [page for _, page in piece if page is not None]
            location = Location(
                str(path.relative_to(corpus)), min(pages, default=None), max(pages, default=None)
            )
            terms = tokens(" ".join(word for word, _ in piece))
            out.append((location, Counter(terms), len(terms)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(ROOT / "bench" / "corpora" / "pg15"))
    parser.add_argument("--questions", default=str(ROOT / "bench" / "questions" / "pg15.jsonl"))
    parser.add_argument("--words", type=int, default=300)
    args = parser.parse_args()
    # No database, but the parser's modules import the app's models: Django is set up first.
    setup_django_without_database()

    index = chunks(Path(args.corpus), args.words)
    n = len(index)
    average = sum(length for *_, length in index) / n
    df = Counter(term for _, counts, _ in index for term in counts)
    postings: dict[str, list[int]] = defaultdict(list)
    for i, (_, counts, _) in enumerate(index):
        for term in counts:
            postings[term].append(i)

    def ranked(question: str) -> list[Location]:
        scores: dict[int, float] = defaultdict(float)
        for term in set(tokens(question)):
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            for i in postings.get(term, []):
                _, counts, length = index[i]
                tf = counts[term]
                scores[i] += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        locations: list[Location] = []
        for i in sorted(scores, key=lambda i: -scores[i]):
            locations.append(index[i][0])
            if len(locations) >= 10 and len({location.path for location in locations}) >= 10:
                break
        return locations

    items = [json.loads(line) for line in Path(args.questions).read_text().splitlines() if line]
    rows = [
        {**item, "locations": ranked(item["q"]), "ms": 0.0, "not_covered": False}
        for item in items
        if item.get("lang", "en") == "en"
    ]
    overall = summarise(rows, 5)["groups"]["overall"]
    print(f"Plain BM25 baseline, {stamp()}")
    print(f"corpus {args.corpus}: {n:,} chunks of {args.words} words; {args.questions}")
    print(
        f"English answerable questions: n={overall['n']}  recall@5={overall['recall']:.3f}  "
        f"MRR@10={overall['mrr']:.3f}  nDCG@10={overall['ndcg']:.3f}"
    )


if __name__ == "__main__":
    main()
