"""Searching as a user: the passages they may read, and the record of the calls it made."""

from __future__ import annotations

from assistant.llm.calls import search_rows
from assistant.llm.models import LlmCall
from ingest.search.retrieval import Retrieval, search


def search_as(
    user,
    query: str,
    *,
    collection_ids: list[int] | None = None,
    k: int = 8,
    message=None,
    calls: list[LlmCall] | None = None,
) -> Retrieval:
    """The best `k` passages for `query` that `user` may read. The calls it made (the query's
    embedding, the rerank) are saved now, or, given `calls`, added to it for the caller to save
    with its own (an answer records all its calls at its end)."""
    found = search(query, user=user, collection_ids=collection_ids, k=k)
    rows = search_rows(
        user, query, found.timings, rerank_tokens=found.rerank_tokens, message=message
    )
    if calls is None:
        LlmCall.objects.bulk_create(rows)
    else:
        calls.extend(rows)
    return found
