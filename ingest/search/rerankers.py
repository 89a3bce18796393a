"""Qwen's rerank model (DashScope's text-rerank endpoint) reorders retrieval's candidates.

Used when a key is set (`RERANK_PROVIDER=qwen`): the fused candidates' passages go to the model
with the question, and come back with a relevance score each. One attempt with the answer's
timeout: a failed rerank keeps the fused order (it must not fail the answer), and is logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from django.conf import settings

log = logging.getLogger(__name__)

RERANK_PATH = "/api/v1/services/rerank/text-rerank/text-rerank"
# Each passage is cut to this many characters: scores need the start of a passage, not all of it.
MAX_DOCUMENT_CHARS = 2000


def rerank_url(base_url: str) -> str:
    """The text-rerank endpoint beside an OpenAI-compatible base URL on the same host."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{RERANK_PATH}"


@dataclass(frozen=True)
class Reranked:
    order: list[int]  # indexes into the documents, most relevant first
    scores: list[float]  # the relevance score of each, in that order
    tokens: int
    ms: float


@dataclass(frozen=True)
class QwenReranker:
    url: str
    api_key: str
    model: str
    timeout_s: float
    name: str = "qwen"

    def rerank(self, query: str, documents: list[str]) -> Reranked | None:
        """The documents' order by relevance to the query, or None when the call failed."""
        started = time.perf_counter()
        body = {
            "model": self.model,
            "input": {"query": query, "documents": [d[:MAX_DOCUMENT_CHARS] for d in documents]},
            "parameters": {"return_documents": False, "top_n": len(documents)},
        }
        try:
            response = httpx2.post(
                self.url,
                json=body,
                headers={"Authorization": f"Bearer {self.api_key}"},
                timeout=self.timeout_s,
            )
            response.raise_for_status()
            payload = response.json()
            results = sorted(
                payload["output"]["results"], key=lambda r: -float(r["relevance_score"])
            )
            order = [int(r["index"]) for r in results if 0 <= int(r["index"]) < len(documents)]
        except (httpx2.HTTPError, ValueError, KeyError, TypeError) as error:
            log.warning("rerank failed, keeping the fused order: %s", error)
            return None
        return Reranked(
            order=order,
            scores=[float(r["relevance_score"]) for r in results][: len(order)],
            tokens=int((payload.get("usage") or {}).get("total_tokens") or 0),
            ms=(time.perf_counter() - started) * 1000,
        )


def get_reranker() -> QwenReranker | None:
    if settings.RERANK_PROVIDER != "qwen":
        return None
    return QwenReranker(
        url=settings.QWEN_RERANK_URL or rerank_url(settings.QWEN_BASE_URL),
        api_key=settings.QWEN_API_KEY,
        model=settings.QWEN_RERANK_MODEL,
        timeout_s=settings.LLM_TIMEOUT_S,
    )
