"""Answer providers behind one interface: stream(request) yields TextDelta events, then Finished.

- ChatProvider: any OpenAI-compatible endpoint through AsyncOpenAI (Qwen, llama.cpp's server).
- ExtractiveProvider: no generation; quotes the most relevant sentences with their [n] markers.

`stream_answer` adds the Qwen rules on top: retries with backoff and jitter only before the
first token, never on 400/401/403, then the fallback models.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache

import httpx2
import openai
from django.conf import settings
from django.utils.translation import gettext_lazy

from assistant.lib.backoff import backoff_s
from assistant.lib.text import terms
from assistant.llm.errors import BudgetSpent, ProviderError, classify
from assistant.llm.prompts import AnswerRequest, Passage, Tier, build_messages
from assistant.llm.usage import Usage, cost_usd, estimate_usage, normalise_usage

log = logging.getLogger(__name__)

OFFLINE_NOTICE = gettext_lazy(
    "Offline mode: these are quotes from the most relevant passages, not a generated answer."
)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Finished:
    provider: str
    model: str
    usage: Usage
    first_token_s: float | None
    notice: str = ""


@dataclass(frozen=True)
class AttemptFailed:
    """One model call that failed before any text: recorded, then the next try (if any)."""

    provider: str
    model: str
    error: ProviderError
    seconds: float


StreamEvent = TextDelta | Finished | AttemptFailed


@dataclass
class ChatProvider:
    """An OpenAI-compatible chat endpoint: Qwen's compatible mode or a local llama.cpp server."""

    name: str
    base_url: str
    api_key: str
    models: dict[str, str]
    fallback_models: list[str] = field(default_factory=list)
    enable_thinking: bool = False
    timeout_s: float = 30.0

    @property
    def client(self) -> openai.AsyncOpenAI:
        # Our own retry policy decides; the SDK's would also retry after the first token.
        return _async_client(
            asyncio.get_running_loop(), self.base_url, self.api_key, self.timeout_s
        )

    def model_for(self, tier: Tier) -> str:
        return self.models.get(tier) or self.models[Tier.DEFAULT]

    async def stream(
        self, request: AnswerRequest, *, model: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        model = model or self.model_for(request.tier)
        messages = build_messages(request)
        started = time.monotonic()
        first_token_s: float | None = None
        usage: Usage | None = None
        text: list[str] = []
        reasoning: list[str] = []
        try:
            async for chunk in self._chunks(model, messages, request.max_tokens):
                if chunk.get("usage"):
                    usage = normalise_usage(chunk["usage"])
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta") or {}
                    # Reasoning goes to the logs, never to the user.
                    reasoning.append(delta.get("reasoning_content") or "")
                    content = delta.get("content")
                    if not content:
                        continue
                    if first_token_s is None:
                        first_token_s = time.monotonic() - started
                    text.append(content)
                    yield TextDelta(content)
        # The SDK raises its errors for the request; reading the lines, a transport failure (a
        # broken chunked stream too) is httpx2's (the SDK's HTTP client).
        except (openai.OpenAIError, httpx2.HTTPError) as error:
            raise classify(error, relayed=bool(text)) from error
        finally:
            if thought := "".join(reasoning):
                log.info("reasoning from %s/%s: %s", self.name, model, thought)
        usage = usage or estimate_usage(messages, text)
        log.info(
            "llm call provider=%s model=%s prompt_tokens=%d completion_tokens=%d cost_usd=%.6f",
            self.name,
            model,
            usage.prompt_tokens,
            usage.completion_tokens,
            cost_usd(model, usage),
        )
        yield Finished(provider=self.name, model=model, usage=usage, first_token_s=first_token_s)

    async def _chunks(self, model: str, messages: list[dict[str, str]], max_tokens: int):
        """The stream's chunks as plain dicts. The SDK sends the request and raises its errors;
        the server-sent lines are read here, because building the SDK's model objects for every
        chunk cost more than all the rest of relaying it (bench/stream_latency.py)."""
        async with self.client.chat.completions.with_streaming_response.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            stream=True,
            stream_options={"include_usage": True},
            # Qwen3's thinking is only valid with stream=True.
            extra_body={"enable_thinking": True} if self.enable_thinking else None,
        ) as response:
            async for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                chunk = json.loads(data)
                if chunk.get("error"):
                    raise openai.APIError(
                        str(chunk["error"]), response.http_response.request, body=chunk
                    )
                yield chunk

    async def complete(
        self, messages: list[dict[str, str]], *, tier: Tier, max_tokens: int
    ) -> tuple[str, Usage, str]:
        """One short reply, not streamed (the query rewrite): its text, usage and model.
        Raises ProviderError like `stream`."""
        model = self.model_for(tier)
        try:
            response = await self.client.chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
            )
        except openai.OpenAIError as error:
            raise classify(error) from error
        reply = (response.choices[0].message.content or "").strip()
        return reply, normalise_usage(response.usage), model


@cache
def _async_client(
    loop: asyncio.AbstractEventLoop, base_url: str, api_key: str, timeout_s: float
) -> openai.AsyncOpenAI:
    # One client per event loop keeps connections (and TLS sessions) warm between questions;
    # an httpx pool must not be shared across loops.
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)


def as_text(sentence: str) -> str:
    """A quoted sentence escaped so Markdown shows it as written: a document's link, image or
    tag (or a forged [n] marker) stays text."""
    return re.sub(r"([\\\[\]<>!`])", r"\\\1", sentence)


_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*|\n+")


@dataclass
class ExtractiveProvider:
    """Quotes the passages' sentences that share most terms with the question. No model call."""

    name: str = "extractive"
    max_sentences: int = 3

    def model_for(self, tier: Tier) -> str:
        return "extractive"

    def pick(self, question: str, passages: list[Passage]) -> list[tuple[int, str]]:
        wanted = terms(question)
        scored = []
        for passage in passages:
            for position, sentence in enumerate(_SENTENCE.split(passage.text)):
                sentence = sentence.strip()
                if len(sentence) < 2:
                    continue
                overlap = len(wanted & terms(sentence))
                scored.append((overlap, -passage.n, -position, passage.n, sentence))
        scored.sort(reverse=True)
        best = [item for item in scored[: self.max_sentences] if item[0] > 0] or scored[:1]
        # Quote in reading order: by passage, then by position inside it.
        best.sort(key=lambda item: (item[3], -item[2]))
        return [(item[3], item[4]) for item in best]

    async def stream(
        self, request: AnswerRequest, *, model: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        started = time.monotonic()
        quotes = self.pick(request.question, request.passages)
        first_token_s = None
        for n, sentence in quotes:
            for piece in re.findall(r"\S+\s*", f"> {as_text(sentence)} [{n}]\n>\n"):
                if first_token_s is None:
                    first_token_s = time.monotonic() - started
                yield TextDelta(piece)
                await asyncio.sleep(0)
        yield Finished(
            provider=self.name,
            model="extractive",
            usage=Usage(),
            first_token_s=first_token_s,
            notice=str(OFFLINE_NOTICE),
        )


Provider = ChatProvider | ExtractiveProvider


def get_provider(name: str | None = None) -> Provider:
    name = name or settings.ANSWER_PROVIDER
    if name == "qwen":
        return ChatProvider(
            name="qwen",
            base_url=settings.QWEN_BASE_URL,
            api_key=settings.QWEN_API_KEY,
            models={
                Tier.FAST: settings.QWEN_MODEL_FAST,
                Tier.DEFAULT: settings.QWEN_MODEL,
                Tier.STRONG: settings.QWEN_MODEL_STRONG,
            },
            fallback_models=settings.QWEN_FALLBACK_MODELS,
            enable_thinking=settings.QWEN_ENABLE_THINKING,
            timeout_s=settings.LLM_TIMEOUT_S,
        )
    if name == "openai-compatible":
        return ChatProvider(
            name="openai-compatible",
            base_url=settings.OPENAI_COMPAT_BASE_URL,
            api_key=settings.OPENAI_COMPAT_API_KEY,
            models={Tier.DEFAULT: settings.OPENAI_COMPAT_MODEL},
            timeout_s=settings.LLM_TIMEOUT_S,
        )
    return ExtractiveProvider()


async def stream_answer(
    provider: Provider, request: AnswerRequest, *, deadline: float | None = None
) -> AsyncIterator[StreamEvent]:
    """Stream from the tier's model, retrying and then falling back only before the first token,
    all of it before `deadline` (time.monotonic(); default: LLM_FIRST_TOKEN_BUDGET_S from now).

    Each failed try is an AttemptFailed event. Raises the last ProviderError when every model
    failed before any text or the budget ran out; a StreamBroken once text has been relayed; a
    ProviderRejected at once (retrying a 400/401/403 cannot help).
    """
    if isinstance(provider, ExtractiveProvider):
        async for event in provider.stream(request):
            yield event
        return
    if deadline is None:
        deadline = time.monotonic() + settings.LLM_FIRST_TOKEN_BUDGET_S
    models = [provider.model_for(request.tier)]
    models += [m for m in provider.fallback_models if m not in models]
    last_error: ProviderError = BudgetSpent("the first-token budget was spent before any try")
    for model in models:
        for attempt in range(settings.LLM_MAX_ATTEMPTS):
            started = time.monotonic()
            if started >= deadline:
                raise last_error
            relayed = False
            stream = provider.stream(request, model=model)
            try:
                try:
                    async with asyncio.timeout(deadline - started):  # the first event only
                        first = await anext(stream)
                except TimeoutError:
                    raise BudgetSpent(
                        f"{model} sent nothing within the first-token budget "
                        f"({settings.LLM_FIRST_TOKEN_BUDGET_S:.0f} s)"
                    ) from None
                relayed = isinstance(first, TextDelta)
                yield first
                async for event in stream:
                    relayed = relayed or isinstance(event, TextDelta)
                    yield event
                return
            except ProviderError as error:
                if relayed:
                    raise
                yield AttemptFailed(provider.name, model, error, time.monotonic() - started)
                if not error.retryable:
                    raise
                last_error = error
                log.warning("llm attempt %d on %s failed: %s", attempt + 1, model, error)
                if attempt + 1 < settings.LLM_MAX_ATTEMPTS:
                    wait = backoff_s(
                        attempt,
                        base=settings.LLM_BACKOFF_BASE_S,
                        retry_after=getattr(error, "retry_after", None),
                    )
                    await asyncio.sleep(max(min(wait, deadline - time.monotonic()), 0))
            finally:
                await stream.aclose()
    raise last_error
