"""Token usage: one shape for every provider's field names, its cost, and the record of every
model and embedding call (who, which model, tokens, cost, time, outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from assistant.lib.text import estimate_tokens
from assistant.llm.models import LlmCall


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


def call_row(
    user,
    message,
    provider: str,
    model: str,
    usage: Usage,
    first_token_ms: int | None,
    total_ms: int | None,
    *,
    outcome: str = LlmCall.Outcome.OK,
    kind: str = LlmCall.Kind.ANSWER,
    cached: bool = False,
    fallback: bool = False,
) -> LlmCall:
    """An unsaved LlmCall; save it with .save() or await .asave()."""
    return LlmCall(
        user=user if getattr(user, "is_authenticated", False) else None,
        message=message,
        kind=kind,
        provider=provider,
        model=model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens,
        estimated=usage.estimated,
        cached=cached,
        fallback=fallback,
        cost_usd=Decimal(str(round(cost_usd(model, usage), 6))),
        first_token_ms=first_token_ms,
        total_ms=total_ms,
        outcome=outcome,
    )


def embedding_row(user, texts: list[str], total_ms: float, *, message=None) -> LlmCall:
    """One embedding call; the local encoder reports no usage, so its tokens are estimated."""
    usage = Usage(
        prompt_tokens=sum(estimate_tokens(text) for text in texts),
        estimated=settings.EMBEDDING_PROVIDER == "local",
    )
    return call_row(
        user,
        message,
        settings.EMBEDDING_PROVIDER,
        settings.EMBEDDING_MODEL,
        usage,
        None,
        round(total_ms),
        kind=LlmCall.Kind.EMBEDDING,
    )


def ocr_row(user, model: str, usage: Usage, seconds: float) -> LlmCall:
    """The vision model's calls for one document's images, added up."""
    return call_row(
        user, None, "qwen", model, usage, None, round(seconds * 1000), kind=LlmCall.Kind.OCR
    )


def search_rows(
    user, query: str, timings: dict[str, float], *, rerank_tokens: int | None, message=None
) -> list[LlmCall]:
    """The calls one search made: the question's embedding and, when its candidates were
    reranked, the rerank model's."""
    rows = [embedding_row(user, [query], timings["embed_ms"], message=message)]
    if rerank_tokens is not None:
        rows.append(
            call_row(
                user,
                message,
                settings.RERANK_PROVIDER,
                settings.QWEN_RERANK_MODEL,
                Usage(prompt_tokens=rerank_tokens),
                None,
                round(timings.get("rerank_ms", 0)),
                kind=LlmCall.Kind.RERANK,
            )
        )
    return rows
