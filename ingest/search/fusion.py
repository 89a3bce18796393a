"""Two rankings made one (reciprocal rank fusion), then ranked by place and diversified.

A place is what a reader would call one: a page of a paged document (a PDF), or a whole document
otherwise (a page of a site). A 236-page manual is many places, so it is not starved by caps and
fusion meant for short pages, and a site of a thousand short pages ranks as before.
"""

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


Place = tuple[int, int | None]  # (document id, first page), the page None when not paged


@dataclass
class Ranked:
    chunk_id: int
    place: Place
    score: float


def by_place(hits: list[Ranked]) -> list[Ranked]:
    """Rank places by their best chunk plus half of their next two, then chunks within.

    A page with several matching passages is more likely the answer than one lucky chunk.
    """
    scores: dict[Place, list[float]] = {}
    for hit in sorted(hits, key=lambda h: -h.score):
        scores.setdefault(hit.place, []).append(hit.score)
    total = {place: s[0] + 0.5 * sum(s[1:3]) for place, s in scores.items()}
    return sorted(hits, key=lambda h: (-total[h.place], -h.score))


def diversify(hits: list[Ranked], *, k: int, per_place: int) -> list[Ranked]:
    """Keep the best `per_place` chunks of each whole document, and the best one of each page,
    so one place cannot fill every slot: a page holds two or three chunks, and a second one of
    the same page would push the next page out of sight."""
    seen: dict[Place, int] = {}
    chosen = []
    for hit in hits:
        cap = per_place if hit.place[1] is None else 1
        if seen.get(hit.place, 0) >= cap:
            continue
        seen[hit.place] = seen.get(hit.place, 0) + 1
        chosen.append(hit)
        if len(chosen) == k:
            break
    return chosen
