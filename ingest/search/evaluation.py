"""Scoring a ranking against gold documents: recall@k, MRR@10, nDCG@10, latency, the
low-confidence signal's rates."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict


def summarise(rows: list[dict], k: int) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    answerable = [r for r in rows if not r.get("unanswerable") and r.get("gold")]
    for row in answerable:
        groups["overall"].append(row)
        groups[f"lang={row.get('lang', 'en')}"].append(row)
        if row.get("cross_lingual"):
            groups["cross-lingual"].append(row)
    latencies = sorted(r["ms"] for r in rows)
    unanswerable = [r for r in rows if r.get("unanswerable")]
    return {
        "k": k,
        "groups": {name: score(members, k) for name, members in groups.items()},
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "low_confidence": {
            "unanswerable": len(unanswerable),
            "unanswerable_flagged": sum(r["low_confidence"] for r in unanswerable),
            "answerable": len(answerable),
            "answerable_flagged": sum(r["low_confidence"] for r in answerable),
        },
    }


def score(rows: list[dict], k: int) -> dict:
    recall, mrr, ndcg = [], [], []
    for row in rows:
        gold = set(row["gold"])
        ranked = row["ranked"]
        recall.append(1.0 if gold & set(ranked[:k]) else 0.0)
        first = next((i for i, path in enumerate(ranked[:10], start=1) if path in gold), None)
        mrr.append(1.0 / first if first else 0.0)
        dcg = sum(
            1.0 / math.log2(i + 1) for i, path in enumerate(ranked[:10], start=1) if path in gold
        )
        ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold), 10) + 1))
        ndcg.append(dcg / ideal if ideal else 0.0)
    return {"n": len(rows), "recall": mean(recall), "mrr": mean(mrr), "ndcg": mean(ndcg)}


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, math.ceil(pct / 100 * len(values)) - 1))
    return values[index]
