"""Scoring a ranking against gold: recall@k, MRR@10, nDCG@10, latency, and how often the
"not covered" decision fires on answerable and unanswerable questions.

Gold is a document path (`sql-vacuum.html`), ranked among the distinct documents retrieved, or a
page of one (`glpk.pdf#p57`, physical pages counted from 1 as PDF readers do), ranked among the
passages retrieved: a passage is a hit when it covers that page of that file.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass

PAGE_MARK = "#p"


@dataclass(frozen=True)
class Location:
    """Where a retrieved passage comes from: its document's path and the pages it covers."""

    path: str
    page_start: int | None = None
    page_end: int | None = None

    def covers(self, path: str, page: int) -> bool:
        if path != self.path or self.page_start is None:
            return False
        return self.page_start <= page <= (self.page_end or self.page_start)


def gold_rank(gold: str, locations: list[Location]) -> int | None:
    """The 1-based rank at which `gold` is first found, or None."""
    path, mark, page = gold.partition(PAGE_MARK)
    if mark and page.isdigit():
        return next(
            (i for i, where in enumerate(locations, start=1) if where.covers(path, int(page))), None
        )
    documents = list(dict.fromkeys(location.path for location in locations))
    return documents.index(gold) + 1 if gold in documents else None


def summarise(rows: list[dict], k: int) -> dict:
    """Rows carry the question's fields plus `locations` (list[Location]), `ms` and
    `not_covered`."""
    groups: dict[str, list[dict]] = defaultdict(list)
    answerable = [r for r in rows if not r.get("unanswerable") and r.get("gold")]
    for row in answerable:
        groups["overall"].append(row)
        groups[f"lang={row.get('lang', 'en')}"].append(row)
        if row.get("cross_lingual"):
            groups["cross-lingual"].append(row)
    latencies = sorted(r["ms"] for r in rows)
    return {
        "k": k,
        "groups": {name: score(members, k) for name, members in groups.items()},
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "not_covered": gate_rates(rows),
    }


def gate_rates(rows: list[dict]) -> dict:
    """How often "not covered" fired, overall and per language, on each kind of question."""
    rates: dict[str, dict] = {}
    for name in ["overall", *sorted({f"lang={r.get('lang', 'en')}" for r in rows})]:
        members = [r for r in rows if name == "overall" or name == f"lang={r.get('lang', 'en')}"]
        answerable = [r for r in members if not r.get("unanswerable")]
        unanswerable = [r for r in members if r.get("unanswerable")]
        rates[name] = {
            "answerable": len(answerable),
            "answerable_flagged": sum(r["not_covered"] for r in answerable),
            "unanswerable": len(unanswerable),
            "unanswerable_flagged": sum(r["not_covered"] for r in unanswerable),
        }
    return rates


def score(rows: list[dict], k: int) -> dict:
    recall, mrr, ndcg = [], [], []
    for row in rows:
        found = {gold_rank(gold, row["locations"]) for gold in row["gold"]} - {None}
        first = min(found, default=None)
        recall.append(1.0 if first is not None and first <= k else 0.0)
        mrr.append(1.0 / first if first is not None and first <= 10 else 0.0)
        dcg = sum(1.0 / math.log2(rank + 1) for rank in found if rank <= 10)
        ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(row["gold"]), 10) + 1))
        ndcg.append(min(dcg / ideal, 1.0) if ideal else 0.0)
    return {"n": len(rows), "recall": mean(recall), "mrr": mean(mrr), "ndcg": mean(ndcg)}


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile of sorted `values` (`pct` from 0 to 100); 0.0 when empty."""
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, math.ceil(pct / 100 * len(values)) - 1))
    return values[index]
