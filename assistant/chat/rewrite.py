"""What to search for, given the question and the conversation before it."""

from __future__ import annotations

import asyncio
import logging
import time

from django.conf import settings

from assistant.chat.followups import is_follow_up
from assistant.lib import tracing
from assistant.llm.calls import call_row, failed_call
from assistant.llm.errors import ProviderError
from assistant.llm.models import LlmCall
from assistant.llm.prompts import Tier, rewrite_messages
from assistant.llm.providers import ChatProvider

log = logging.getLogger(__name__)

REWRITE_MAX_TOKENS = 120


async def search_query(
    question: str, history: list[dict[str, str]], provider, *, user, message, deadline: float
) -> tuple[str, LlmCall | None]:
    """The query, and the model call that wrote it (None when no model was asked).

    With a model, the fast model turns the question (a follow-up with what the conversation says
    it refers to) into a search query, within the answer's first-token `deadline` (monotonic):
    a hanging model cannot spend it all here, and a failed rewrite searches the question as
    asked. Offline, a follow-up is searched together with the question before it, and a new
    topic alone."""
    if not isinstance(provider, ChatProvider):
        if not history or not is_follow_up(question):
            return question, None
        previous = [h["content"] for h in history if h["role"] == "user"][-1:]
        return " ".join([*previous, question]), None
    if settings.QUERY_REWRITE == "off" or (settings.QUERY_REWRITE == "follow-ups" and not history):
        return question, None
    started = time.monotonic()
    try:
        with tracing.span("llm.rewrite", **{"gen_ai.system": provider.name}) as span:
            async with asyncio.timeout(max(deadline - started, 0)):
                rewritten, usage, model = await provider.complete(
                    rewrite_messages(question, history),
                    tier=Tier.FAST,
                    max_tokens=REWRITE_MAX_TOKENS,
                )
            span.set_attributes(tracing.usage(model, usage))
    except (ProviderError, TimeoutError) as error:  # a failed rewrite must not fail the answer
        log.warning("query rewrite failed: %s", error or "no reply within the budget")
        seconds = time.monotonic() - started
        model = provider.model_for(Tier.FAST)
        return question, failed_call(
            user, message, provider.name, model, seconds, kind=LlmCall.Kind.REWRITE
        )
    elapsed_ms = int((time.monotonic() - started) * 1000)
    call = call_row(
        user, message, provider.name, model, usage, None, elapsed_ms, kind=LlmCall.Kind.REWRITE
    )
    return " ".join(rewritten.split())[:500] or question, call
