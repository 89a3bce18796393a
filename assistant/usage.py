"""Recording every model and embedding call: who, which model, tokens, cost, time, outcome."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from assistant.llm import Usage, cost_usd, estimate_tokens
from assistant.models import LlmCall


def call_row(
    user,
    message,
    provider: str,
    model: str,
    usage: Usage,
    first_token_ms: int | None,
    total_ms: int | None,
    *,
    outcome: str = "ok",
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
