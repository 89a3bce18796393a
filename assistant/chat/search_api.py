"""Search over the JSON API: ranked passages without an answer."""

from __future__ import annotations

from django.conf import settings
from ninja import Field, Router, Schema

from assistant.chat.highlight import snippet
from assistant.chat.searching import search_as
from assistant.lib.api import Words

router = Router(tags=["search"])


class SearchIn(Schema):
    query: Words = Field(min_length=1, max_length=2000)
    k: int = Field(8, ge=1, le=50)
    collection_ids: list[int] | None = Field(
        None,
        max_length=settings.MAX_COLLECTION_IDS,
        description="Search only these collections; default: every one you may read.",
    )


class PassageOut(Schema):
    chunk_id: int
    document_id: int
    title: str
    source_path: str
    heading_path: str
    page_start: int | None
    page_end: int | None
    score: float
    similarity: float | None
    snippet: str
    text: str
    url: str


class SearchOut(Schema):
    query: str
    low_confidence: bool
    took_ms: float
    passages: list[PassageOut]


# The operation id it had when it lived in assistant/api.py, kept for generated clients.
@router.post("/search", response=SearchOut, operation_id="assistant_api_search_passages")
def search_passages(request, body: SearchIn):
    """Ranked passages from the collections you may read (hybrid: meaning + keywords)."""
    found = search_as(request.auth, body.query, collection_ids=body.collection_ids, k=body.k)
    return {
        "query": body.query,
        "low_confidence": found.low_confidence,
        "took_ms": round(found.timings["total_ms"], 1),
        "passages": [
            {
                **hit.__dict__,
                "snippet": snippet(hit.text, body.query, width=300),
                "url": hit.url,
            }
            for hit in found.hits
        ],
    }
