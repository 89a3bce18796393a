"""Answer providers behind one interface: stream(request) yields TextDelta events, then Finished.

- ChatProvider: any OpenAI-compatible endpoint through AsyncOpenAI (Qwen, llama.cpp's server).
- ExtractiveProvider: no generation; quotes the most relevant sentences with their [n] markers.

`stream_answer` adds the Qwen rules on top: retries with backoff and jitter only before the
first token, never on 400/401/403, then the fallback models.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import openai
from django.conf import settings

from assistant.prompts import AnswerRequest, Passage, build_messages
from ingest.lexical import STOP_WORDS

log = logging.getLogger(__name__)

OFFLINE_NOTICE = (
    "Offline mode: these are quotes from the most relevant passages, not a generated answer."
)


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


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Finished:
    provider: str
    model: str
    usage: Usage
    first_token_s: float | None
    total_s: float
    finish_reason: str = "stop"
    notice: str = ""


StreamEvent = TextDelta | Finished


class ProviderError(Exception):
    """A provider call that failed; `user_message` is safe to show, the rest goes to logs."""

    retryable = False
    user_message = "The assistant could not answer right now. Please try again."

    def __init__(self, detail: str, *, status: int | None = None, partial_text: str = ""):
        super().__init__(detail)
        self.status = status
        self.partial_text = partial_text


class ProviderBusy(ProviderError):
    """429: rate limited. Retry after `retry_after` seconds when the server says so."""

    retryable = True

    def __init__(self, detail: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:  # type: ignore[override]
        wait = f" in {round(self.retry_after)} s" if self.retry_after else " in a moment"
        return f"The assistant is busy, try again{wait}."


class ProviderUnavailable(ProviderError):
    """5xx, a timeout, or a refused connection: worth another try."""

    retryable = True
    user_message = "The answer service is not responding. Please try again shortly."


class ProviderRejected(ProviderError):
    """400/401/403 and content refusals: retrying cannot help."""

    user_message = "The answer service refused the request. An administrator has been told."


class StreamBroken(ProviderError):
    """The stream failed after text reached the user: never retried, the partial text is kept."""

    user_message = "The answer was cut off by the answer service. Please ask again."


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


def estimate_tokens(text: str) -> int:
    """A rough count for servers that report no usage: ~4 characters a token, CJK 1 each."""
    cjk = sum(len(run) for run in _CJK.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


def estimate_usage(messages: list[dict[str, str]], deltas: list[str]) -> Usage:
    prompt = sum(estimate_tokens(message["content"]) for message in messages)
    # Local servers stream one token per delta.
    return Usage(prompt_tokens=prompt, completion_tokens=len(deltas), estimated=True)


def cost_usd(model: str, usage: Usage) -> float:
    price_in, price_out = settings.MODEL_PRICES.get(model, (0.0, 0.0))
    return (usage.prompt_tokens * price_in + usage.completion_tokens * price_out) / 1_000_000


def _retry_after(response: Any) -> float | None:
    if response is None:
        return None
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def classify(error: Exception, *, partial_text: str = "") -> ProviderError:
    """Map SDK and transport errors to ours. Anything after the first token is a broken stream."""
    status = getattr(error, "status_code", None)
    detail = f"{type(error).__name__}: {error}"
    if partial_text:
        return StreamBroken(detail, status=status, partial_text=partial_text)
    if isinstance(error, openai.RateLimitError):
        return ProviderBusy(detail, status=status, retry_after=_retry_after(error.response))
    if isinstance(error, openai.APIStatusError):
        if status is not None and status >= 500:
            return ProviderUnavailable(detail, status=status)
        return ProviderRejected(detail, status=status)
    return ProviderUnavailable(detail, status=status)


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

    def model_for(self, tier: str) -> str:
        return self.models.get(tier) or self.models["default"]

    async def stream(
        self, request: AnswerRequest, *, model: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        model = model or self.model_for(request.tier)
        started = time.monotonic()
        first_token_s: float | None = None
        usage: Usage | None = None
        finish_reason = "stop"
        text: list[str] = []
        messages = build_messages(request)
        reasoning: list[str] = []
        extra: dict[str, Any] = {}
        if self.enable_thinking:
            extra["enable_thinking"] = True  # Qwen3: only valid with stream=True
        try:
            stream = await self.client.chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=request.max_tokens,
                stream=True,
                stream_options={"include_usage": True},
                extra_body=extra or None,
            )
            async with stream:
                async for chunk in stream:
                    if chunk.usage:
                        usage = normalise_usage(chunk.usage)
                    for choice in chunk.choices:
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
                        delta = choice.delta
                        # Reasoning goes to the logs, never to the user.
                        if thought := getattr(delta, "reasoning_content", None):
                            reasoning.append(thought)
                        if delta.content:
                            if first_token_s is None:
                                first_token_s = time.monotonic() - started
                            text.append(delta.content)
                            yield TextDelta(delta.content)
        # The SDK wraps transport failures (a broken chunked stream too) in APIConnectionError.
        except openai.OpenAIError as error:
            raise classify(error, partial_text="".join(text)) from error
        finally:
            if reasoning:
                log.info("reasoning from %s/%s: %s", self.name, model, "".join(reasoning))
        if usage is None:
            usage = estimate_usage(messages, text)
        log.info(
            "llm call provider=%s model=%s prompt_tokens=%d completion_tokens=%d cost_usd=%.6f",
            self.name,
            model,
            usage.prompt_tokens,
            usage.completion_tokens,
            cost_usd(model, usage),
        )
        yield Finished(
            provider=self.name,
            model=model,
            usage=usage,
            first_token_s=first_token_s,
            total_s=time.monotonic() - started,
            finish_reason=finish_reason,
        )


@cache
def _async_client(
    loop: asyncio.AbstractEventLoop, base_url: str, api_key: str, timeout_s: float
) -> openai.AsyncOpenAI:
    # One client per event loop keeps connections (and TLS sessions) warm between questions;
    # an httpx pool must not be shared across loops.
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)


_WORD = re.compile(r"[A-Za-z0-9_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*|\n+")


def terms(text: str) -> set[str]:
    """Lower-cased words, plus character bigrams for Chinese, Japanese and Korean runs."""
    found = {word for word in _WORD.findall(text.lower()) if word not in STOP_WORDS}
    for run in _CJK.findall(text):
        found.update(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
    return found


@dataclass
class ExtractiveProvider:
    """Quotes the passages' sentences that share most terms with the question. No model call."""

    name: str = "extractive"
    max_sentences: int = 3

    def model_for(self, tier: str) -> str:
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
            for piece in re.findall(r"\S+\s*", f"> {sentence} [{n}]\n>\n"):
                if first_token_s is None:
                    first_token_s = time.monotonic() - started
                yield TextDelta(piece)
                await asyncio.sleep(0)
        yield Finished(
            provider=self.name,
            model="extractive",
            usage=Usage(),
            first_token_s=first_token_s,
            total_s=time.monotonic() - started,
            notice=OFFLINE_NOTICE,
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
                "fast": settings.QWEN_MODEL_FAST,
                "default": settings.QWEN_MODEL,
                "strong": settings.QWEN_MODEL_STRONG,
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
            models={"default": settings.OPENAI_COMPAT_MODEL},
            timeout_s=settings.LLM_TIMEOUT_S,
        )
    return ExtractiveProvider()


def backoff_s(attempt: int, *, base: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a server's Retry-After is a floor."""
    delay = random.uniform(0, base * 2**attempt)
    return max(delay, retry_after or 0.0)


async def stream_answer(provider: Provider, request: AnswerRequest) -> AsyncIterator[StreamEvent]:
    """Stream from the tier's model, retrying and then falling back only before the first token.

    Raises the last ProviderError when every model failed before any text; a StreamBroken once
    text has been relayed; a ProviderRejected at once (retrying a 400/401/403 cannot help).
    """
    if isinstance(provider, ExtractiveProvider):
        async for event in provider.stream(request):
            yield event
        return
    models = [provider.model_for(request.tier)]
    models += [m for m in provider.fallback_models if m not in models]
    last_error: ProviderError | None = None
    for model in models:
        for attempt in range(settings.LLM_MAX_ATTEMPTS):
            relayed = False
            try:
                async for event in provider.stream(request, model=model):
                    relayed = relayed or isinstance(event, TextDelta)
                    yield event
                return
            except ProviderError as error:
                if relayed or not error.retryable:
                    raise
                last_error = error
                log.warning("llm attempt %d on %s failed: %s", attempt + 1, model, error)
                if attempt + 1 < settings.LLM_MAX_ATTEMPTS:
                    await asyncio.sleep(
                        backoff_s(
                            attempt,
                            base=settings.LLM_BACKOFF_BASE_S,
                            retry_after=getattr(error, "retry_after", None),
                        )
                    )
    assert last_error is not None
    raise last_error
