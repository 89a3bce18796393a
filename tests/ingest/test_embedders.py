from __future__ import annotations

import importlib.util

import numpy as np

from ingest.embedders import LocalEmbedder, QwenEmbedder, get_embedder, get_english_embedder
from tests.support.qwen_standin import Reply


def test_local_embedder_gives_unit_vectors_of_512_dimensions_across_languages():
    embedder = get_embedder()

    vectors = np.array(
        embedder.embed(
            [
                "How do I upload a document?",
                "如何上传文档？",
                "The weather is cold in winter.",
            ]
        )
    )

    assert isinstance(embedder, LocalEmbedder)
    assert vectors.shape == (3, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    # The multilingual model puts a question and its translation nearer than an unrelated line.
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_the_english_leg_reads_meaning_from_the_bundled_minilm_without_torch():
    embedder = get_english_embedder()

    vectors = np.array(
        embedder.embed(
            [
                "How do I reclaim disk space after deleting rows?",
                "VACUUM FULL rewrites the table to return space to the operating system.",
                "The weather is nice today.",
            ]
        )
    )

    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > 0.3 > vectors[0] @ vectors[2]
    assert importlib.util.find_spec("torch") is None, "installed without its torch dependencies"


def test_qwen_embedder_sends_batches_of_at_most_ten(standin):
    embedder = QwenEmbedder(base_url=standin.base_url, api_key="sk-test", dimensions=64)

    vectors = embedder.embed([f"passage {i}" for i in range(23)])

    assert len(vectors) == 23
    assert all(len(v) == 64 for v in vectors)
    sizes = [len(body["input"]) for body in standin.requests]
    assert sizes == [10, 10, 3]
    assert {body["model"] for body in standin.requests} == {"text-embedding-v4"}


def test_qwen_embedder_retries_transient_errors(standin):
    standin.script(Reply(status=429), Reply(status=503))
    embedder = QwenEmbedder(base_url=standin.base_url, api_key="sk-test", dimensions=8)

    vectors = embedder.embed(["one", "two"])

    assert len(vectors) == 2
    assert len(standin.requests) == 3
