"""One backoff for every retry: model calls, embedding calls, ingestion tasks."""

from __future__ import annotations

import random


def backoff_s(attempt: int, *, base: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a server's Retry-After is a floor."""
    delay = random.uniform(0, base * 2**attempt)
    return max(delay, retry_after or 0.0)
