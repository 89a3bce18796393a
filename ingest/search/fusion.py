"""Two rankings made one (reciprocal rank fusion), then ranked by document and diversified."""

from __future__ import annotations

from dataclasses import dataclass

# A small k favours items at the very top of either list (tuned on bench/questions).
RRF_K = 10


def ranks(ids: list[int]) -> dict[int, int]:
    """Each id's 1-based rank in `ids`."""
    return {chunk_id: rank for rank, chunk_id in enumerate(ids, start=1)}


def reciprocal_rank(*rankings: dict[int, int]) -> dict[int, float]:
    """Each id's fused score: the sum of 1 / (RRF_K + rank) over the rankings it appears in."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for chunk_id, rank in ranking.items():
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return fused


@dataclass
class Ranked:
    chunk_id: int
    document_id: int
    score: float


def by_document(hits: list[Ranked]) -> list[Ranked]:
    """Rank documents by their best chunk plus half of their next two, then chunks within.

    A page with several matching passages is more likely the answer than one lucky chunk.
    """
    scores: dict[int, list[float]] = {}
    for hit in sorted(hits, key=lambda h: -h.score):
        scores.setdefault(hit.document_id, []).append(hit.score)
    total = {doc: s[0] + 0.5 * sum(s[1:3]) for doc, s in scores.items()}
    return sorted(hits, key=lambda h: (-total[h.document_id], -h.score))


def diversify(hits: list[Ranked], *, k: int, per_document: int) -> list[Ranked]:
    """Keep the best `per_document` chunks of each document so one cannot fill every slot."""
    seen: dict[int, int] = {}
    chosen = []
    for hit in hits:
        if seen.get(hit.document_id, 0) >= per_document:
            continue
        seen[hit.document_id] = seen.get(hit.document_id, 0) + 1
        chosen.append(hit)
        if len(chosen) == k:
            break
    return chosen
