"""The record of every model, embedding and rerank call: who, which model, tokens, cost, time,
outcome (unsaved LlmCall rows; the caller saves them)."""

from __future__ import annotations

from django.conf import settings

from assistant.lib import metrics, request_id
from assistant.lib.text import estimate_tokens
from assistant.llm.models import LlmCall
from assistant.llm.usage import Usage, price


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
    cost = price(model, usage)
    metrics.count_call(
        kind=kind,
        model=model,
        outcome=outcome,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost_usd=float(cost),
    )
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
        cost_usd=cost,
        first_token_ms=first_token_ms,
        total_ms=total_ms,
        outcome=outcome,
        request_id=request_id.current(),
    )


def failed_call(
    user, message, provider: str, model: str, seconds: float, *, kind: str = LlmCall.Kind.ANSWER
) -> LlmCall:
    """A call that failed before any text: no tokens, its time, outcome ERROR."""
    return call_row(
        user,
        message,
        provider,
        model,
        Usage(),
        None,
        int(seconds * 1000),
        outcome=LlmCall.Outcome.ERROR,
        kind=kind,
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
