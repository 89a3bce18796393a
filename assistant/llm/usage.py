"""Token usage: one shape for every provider's field names, and what it costs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from assistant.lib.text import estimate_tokens


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    # True when the server reported no usage (llama.cpp's stream does not) and we counted.
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def normalise_usage(raw: Any) -> Usage:
    """One place for the usage field names that differ between modes and providers."""
    if raw is None:
        return Usage()
    data = raw if isinstance(raw, dict) else raw.model_dump()
    details = data.get("prompt_tokens_details") or data.get("input_tokens_details") or {}
    return Usage(
        prompt_tokens=int(data.get("prompt_tokens") or data.get("input_tokens") or 0),
        completion_tokens=int(data.get("completion_tokens") or data.get("output_tokens") or 0),
        cached_tokens=int((details or {}).get("cached_tokens") or 0),
    )


def estimate_usage(messages: list[dict[str, str]], deltas: list[str]) -> Usage:
    prompt = sum(estimate_tokens(message["content"]) for message in messages)
    # Local servers stream one token per delta.
    return Usage(prompt_tokens=prompt, completion_tokens=len(deltas), estimated=True)


def cost_usd(model: str, usage: Usage) -> float:
    price_in, price_out = settings.MODEL_PRICES.get(model, (0.0, 0.0))
    return (usage.prompt_tokens * price_in + usage.completion_tokens * price_out) / 1_000_000


def price(model: str, usage: Usage) -> Decimal:
    """The cost as it is stored and charged: dollars to the millionth."""
    return Decimal(str(round(cost_usd(model, usage), 6)))
