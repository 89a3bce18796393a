"""Answer one question, as a stream of events: retrieve, decide, prompt, generate, finalize.

`answer_events` drives an assistant Message from CREATED to SUCCEEDED, FAILED or CANCELLED and
yields Events (STATUS, DELTA, then DONE). Whatever must be saved is saved in `finally`, so a
closed tab (the generator is cancelled) or the Stop button still leaves a stored answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone

from assistant.chat import notices
from assistant.chat.cache import cache_key, cached_answer
from assistant.chat.charging import record_calls, replace_estimate, settle_quota
from assistant.chat.citations import save_citations
from assistant.chat.events import Event, Kind
from assistant.chat.highlight import snippet
from assistant.chat.models import Message
from assistant.chat.rendering import Source, drop_unknown_markers, render, used_markers
from assistant.chat.reviewed import as_hits
from assistant.chat.reviewed import match as match_reviewed
from assistant.chat.rewrite import search_query
from assistant.chat.searching import search_as
from assistant.chat.upgrade import doubtful, may_upgrade
from assistant.lib import metrics, notify, tracing
from assistant.llm.calls import call_row, failed_call
from assistant.llm.errors import ProviderError, StreamBroken
from assistant.llm.models import LlmCall
from assistant.llm.prompts import AnswerRequest, Passage, Tier, build_messages, says_not_covered
from assistant.llm.providers import (
    AttemptFailed,
    ChatProvider,
    ExtractiveProvider,
    Finished,
    StreamEvent,
    get_provider,
    stream_answer,
)
from assistant.llm.usage import Usage, estimate_usage, price
from ingest.search.retrieval import Hit, prompt_passages

log = logging.getLogger(__name__)

# What the pipeline writes when the answer ends, and when it is cancelled.
UNFINISHED_FIELDS = (
    "status",
    "notice",
    "text",
    "html",
    "total_ms",
    "first_token_ms",
    "standalone_question",
)
FINAL_FIELDS = (
    *UNFINISHED_FIELDS,
    "error",
    "provider",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "unknown_markers",
    "content_gap",
    "cache_key",
    "cached",
    "upgraded",
    "draft_text",
    "reviewed_answer",
)
HISTORY_TURNS = 3


async def answer_events(message: Message, *, user, use_cache: bool = True) -> AsyncIterator[Event]:
    """Run the pipeline for an assistant message (already checked to belong to `user`).
    `use_cache=False` always writes a new answer (an evaluation measures the model, not the
    cache).

    Stop reaches the pipeline wherever it waits (retrieval, the rewrite, a retry's backoff, the
    next token): a NOTIFY from any web process wakes a watcher, which cancels the task reading
    these events. The task must not await anything else between events (none of ours does)."""
    if message.is_finished:
        yield Event(Kind.DONE, message)
        return
    async with notify.waiting(notify.STOP, str(message.pk)) as stop:
        claimed = await Message.objects.filter(
            pk=message.pk, status=Message.Status.CREATED, stop_requested=False
        ).aupdate(status=Message.Status.RETRIEVING, heartbeat_at=timezone.now())
        if not claimed:
            # Stopped before it started, or another connection is answering it (a second tab):
            # follow it to the end.
            yield Event(Kind.DONE, await _wait_until_finished(message.pk))
            return
        run = _Run(message, user, use_cache=use_cache)
        watcher = asyncio.create_task(run.watch(stop, asyncio.current_task()))
        heart = asyncio.create_task(run.heartbeat())
        metrics.OPEN_STREAMS.inc()
        try:
            async for event in run.events():
                yield event
        except asyncio.CancelledError:
            if not run.stopped:
                raise
            asyncio.current_task().uncancel()
            await run.save_unfinished()
            yield Event(Kind.DONE, run.message)
        finally:
            metrics.OPEN_STREAMS.dec()
            watcher.cancel()
            heart.cancel()
            await asyncio.shield(run.save_unfinished())


def answer_fully(message: Message, *, user, use_cache: bool = True) -> None:
    """Run the pipeline to its end from synchronous code (the no-JavaScript form)."""
    async_to_sync(drain)(message, user=user, use_cache=use_cache)


async def drain(message: Message, *, user, use_cache: bool = True) -> None:
    """Run the pipeline to its end, reading no event (the API's answer without streaming)."""
    async for _ in answer_events(message, user=user, use_cache=use_cache):
        pass


async def _wait_until_finished(message_id: int, timeout_s: float = 300) -> Message:
    """The message once it is finished (or as it is after `timeout_s`): woken by the NOTIFY its
    stream sends when it ends, not by polling."""
    deadline = time.monotonic() + timeout_s
    async with notify.waiting(notify.DONE, str(message_id)) as done:
        while True:
            message = await Message.objects.select_related("conversation").aget(pk=message_id)
            if message.status == Message.Status.CREATED and message.stop_requested:
                return await sync_to_async(_cancel_unstarted)(message)
            if message.is_finished or time.monotonic() > deadline:
                return message
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                    await done.wait()
            done.clear()


def _cancel_unstarted(message: Message) -> Message:
    """Stop pressed before the stream claimed the answer: it ends cancelled, nothing used."""
    Message.objects.filter(pk=message.pk, status=Message.Status.CREATED).update(
        status=Message.Status.CANCELLED, notice=notices.STOPPED
    )
    settle_quota(message)
    notify.send(notify.DONE, str(message.pk))
    message.refresh_from_db()
    return message


@dataclass
class Outcome:
    """How an answer ended: who wrote it, what it used, and how its model call is recorded."""

    provider: str = ""  # empty when no model was called (the documents did not cover it)
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    status: Message.Status = Message.Status.SUCCEEDED
    call: LlmCall.Outcome = LlmCall.Outcome.OK
    fallback: bool = False
    cited: bool = True
    kind: LlmCall.Kind = LlmCall.Kind.ANSWER
    recorded: bool = False  # its call is in _Run.calls already (a draft that stood)


class _Run:
    def __init__(self, message: Message, user, *, use_cache: bool = True) -> None:
        self.message = message
        self.user = user
        self.use_cache = use_cache
        self.started = time.monotonic()
        # The first token's deadline, across the rewrite, the retries and the fallback models.
        self.deadline = self.started + settings.LLM_FIRST_TOKEN_BUDGET_S
        self.text: list[str] = []
        self.hits: list[Hit] = []
        self.outcome = Outcome()
        self.finished: Finished | None = None
        # Model calls made so far, recorded with the answer's end (one transaction, not one each).
        self.calls: list[LlmCall] = []
        self.writing = True  # Stop may cancel it until the answer is being stored
        self.done = False
        self.stopped = False  # Stop was pressed (not the tab closed)
        self.span = None  # the answer model's call, while it runs

    async def watch(self, stop: asyncio.Event, task: asyncio.Task) -> None:
        """Cancel `task` once Stop is really requested; a wake-up may only mean "look again"."""
        while True:
            await stop.wait()
            stop.clear()
            if not self.writing:
                return
            stopped = Message.objects.filter(pk=self.message.pk, stop_requested=True)
            if await stopped.aexists() and self.writing:
                self.stopped = True
                task.cancel()
                return

    async def heartbeat(self) -> None:
        """While the answer is written: every ANSWER_HEARTBEAT_S, the text so far (and who is
        writing it, with the prompt's estimated size) saved with a fresh heartbeat, so a process
        that dies loses neither, and the sweeper can tell a live answer from an orphan."""
        while True:
            await asyncio.sleep(settings.ANSWER_HEARTBEAT_S)
            message = self.message
            try:
                await Message.objects.filter(pk=message.pk, status__in=Message.OPEN).aupdate(
                    heartbeat_at=timezone.now(),
                    text="".join(self.text),
                    provider=message.provider,
                    model=message.model,
                    prompt_tokens=message.prompt_tokens,
                )
            except DatabaseError as error:  # an outage: the next beat tries again
                log.warning("heartbeat of answer %s failed: %s", message.pk, error)

    async def events(self) -> AsyncIterator[Event]:
        yield Event(Kind.STATUS, Message.Status.RETRIEVING)
        async for event in self._write():
            yield event
        self.writing = False
        yield Event(Kind.DONE, await self._finalize())

    async def _write(self) -> AsyncIterator[Event]:
        """Retrieve, then write the answer as DELTA events; how it ended goes to self.outcome."""
        message = self.message
        question, history, collection_ids = await sync_to_async(self._question_and_history)()
        if message.use_reviewed and not history:
            # A question that stands alone may have been answered by staff already. (A
            # follow-up leans on its conversation: the documents answer it.)
            reviewed = await sync_to_async(self._reviewed)(question, collection_ids)
            if reviewed is not None:
                yield self._delta(reviewed.answer)
                return
        provider = get_provider()
        standalone, rewrite = await search_query(
            question, history, provider, user=self.user, message=message, deadline=self.deadline
        )
        self.calls += [rewrite] if rewrite else []
        message.standalone_question = standalone[:2000]
        found = await sync_to_async(search_as)(
            self.user,
            standalone,
            collection_ids=collection_ids,
            message=message,
            calls=self.calls,
        )
        self.hits = prompt_passages(found.hits)
        if found.nothing_matches:
            message.content_gap = True
            self.outcome = Outcome(cited=False)
            yield self._delta(str(notices.NOTHING_MATCHES))
            return
        if found.low_confidence and not isinstance(provider, ChatProvider):
            # Offline there is no model to judge the passages: show them, flagged as doubtful.
            message.content_gap = True
            message.notice = notices.may_not_cover(found.absent_names)
        tier = Tier.STRONG if message.high_accuracy else Tier.DEFAULT
        model = provider.model_for(tier)
        message.cache_key = cache_key(standalone, self.hits, model, history)
        cached = await sync_to_async(self._cached_or_generating)()
        if cached is not None:
            message.cached = True
            self.outcome = Outcome(provider=cached.provider, model=cached.model)
            yield self._delta(cached.text)
            return
        yield Event(Kind.STATUS, Message.Status.GENERATING)
        request = AnswerRequest(
            question=question,
            passages=[
                Passage(n=i, text=h.text, title=h.title, heading=h.heading_path)
                for i, h in enumerate(self.hits, start=1)
            ],
            max_tokens=settings.ANSWER_MAX_TOKENS,
            history=history,
            tier=tier,
        )
        # Who writes it, and the prompt's size: what the sweeper charges if this process dies.
        message.provider, message.model = provider.name, model
        message.prompt_tokens = estimate_usage(build_messages(request), []).prompt_tokens
        # Ended when the answer is stored (_traced): this generator may be closed elsewhere.
        self.span = tracing.start("llm.answer", **{"gen_ai.system": provider.name})
        try:
            async for event in self._generate(provider, request, deadline=self.deadline):
                yield event
        except ProviderError as error:
            # Every retry and fallback model failed before any text: quote the passages instead.
            log.error("answer provider failed: %s", error)  # each try is recorded already
            message.notice = notices.quoting_instead(error.user_message)
            async for event in self._relay(ExtractiveProvider().stream(request)):
                yield event
        if self.outcome.status == Message.Status.FAILED:
            return
        finished = self.finished
        assert finished is not None
        message.notice = message.notice or finished.notice
        if says_not_covered("".join(self.text)):
            message.content_gap = True  # the model read the passages and found no answer
        self.outcome = Outcome(
            provider=finished.provider,
            model=finished.model,
            usage=finished.usage,
            fallback=(finished.provider, finished.model) != (provider.name, model),
        )
        if self.outcome.fallback and finished.provider == provider.name:
            message.notice = message.notice or notices.answered_by_fallback(finished.model, model)
        if (
            may_upgrade(provider, high_accuracy=message.high_accuracy)
            and finished.provider == provider.name
            and doubtful("".join(self.text), passages=len(self.hits), found=found)
        ):
            async for event in self._upgrade(provider, request):
                yield event

    async def _upgrade(self, provider: ChatProvider, draft: AnswerRequest) -> AsyncIterator[Event]:
        """Answer once more on the strong tier, in place of a doubtful draft: the draft's call
        is recorded, its text kept for the review queue; the reader's text starts over (the
        UPGRADING status says so). Should the strong model give no text, the draft stands."""
        message, drafted = self.message, self.outcome
        self.calls.append(self._call(drafted, first_token_ms=message.first_token_ms))
        message.draft_text, message.upgraded = "".join(self.text), True
        message.notice, message.content_gap = "", False
        request = replace(draft, tier=Tier.STRONG)
        model = provider.model_for(Tier.STRONG)
        message.model = model
        await sync_to_async(self._set_status)(Message.Status.UPGRADING)
        yield Event(Kind.STATUS, Message.Status.UPGRADING)
        self.text, self.finished = [], None
        # The person is reading the draft meanwhile: the final answer gets a budget of its own.
        deadline = time.monotonic() + settings.LLM_FIRST_TOKEN_BUDGET_S
        try:
            async for event in self._generate(
                provider, request, deadline=deadline, kind=LlmCall.Kind.FINAL
            ):
                yield event
        except ProviderError as error:
            log.error("the strong model failed, the draft stands: %s", error)
            message.model, message.upgraded = drafted.model, False
            message.content_gap = says_not_covered(message.draft_text)
            self.outcome = replace(drafted, recorded=True)
            yield self._delta(message.draft_text)
            return
        if self.outcome.status == Message.Status.FAILED:
            return
        finished = self.finished
        assert finished is not None
        message.content_gap = says_not_covered("".join(self.text))
        self.outcome = Outcome(
            provider=finished.provider,
            model=finished.model,
            usage=finished.usage,
            fallback=finished.model != model,
            kind=LlmCall.Kind.FINAL,
        )

    async def _generate(
        self,
        provider: ChatProvider | ExtractiveProvider,
        request: AnswerRequest,
        *,
        deadline: float,
        kind: LlmCall.Kind = LlmCall.Kind.ANSWER,
    ) -> AsyncIterator[Event]:
        """Relay the model's answer. A stream broken after its first token ends the answer
        FAILED with what was written (self.outcome says so); a ProviderError before any text
        is the caller's to handle."""
        try:
            async for event in self._relay(stream_answer(provider, request, deadline=deadline)):
                yield event
        except StreamBroken as error:
            log.warning("stream broke after the first token: %s", error)
            self.message.error = str(error.user_message)
            self.outcome = Outcome(
                provider=provider.name,
                model=provider.model_for(request.tier),
                usage=estimate_usage(build_messages(request), self.text),
                status=Message.Status.FAILED,
                call=LlmCall.Outcome.BROKEN,
                kind=kind,
            )

    def _reviewed(self, question: str, collection_ids: list[int] | None):
        """The reviewed answer for the question, made this answer's (no model call)."""
        found = match_reviewed(
            self.user,
            question,
            collection_ids=collection_ids,
            message=self.message,
            calls=self.calls,
        )
        if found is not None:
            self.message.reviewed_answer = found
            self.message.standalone_question = question[:2000]
            self.hits = as_hits(found)
        return found

    def _delta(self, text: str) -> Event:
        self.text.append(text)
        return Event(Kind.DELTA, text)

    async def _relay(self, stream: AsyncIterator[StreamEvent]) -> AsyncIterator[Event]:
        """Pass deltas on, keeping the Finished event. Closing the stream (at the end, on Stop or
        on a closed tab) cancels the request upstream."""
        try:
            async for event in stream:
                if isinstance(event, Finished):
                    self.finished = event
                    continue
                if isinstance(event, AttemptFailed):
                    self.calls.append(
                        failed_call(
                            self.user, self.message, event.provider, event.model, event.seconds
                        )
                    )
                    continue
                if self.message.first_token_ms is None:
                    self.message.first_token_ms = self._elapsed_ms()
                yield self._delta(event.text)
        finally:
            await stream.aclose()

    def _question_and_history(self) -> tuple[str, list[dict[str, str]], list[int] | None]:
        """The question, the turns before it and the conversation's collections (None: all)."""
        earlier = list(
            Message.objects.filter(
                conversation_id=self.message.conversation_id, pk__lt=self.message.pk
            ).order_by("-pk")[: 2 * HISTORY_TURNS + 1]
        )
        earlier.reverse()
        question = earlier[-1].text if earlier and earlier[-1].role == "user" else ""
        history = [
            {"role": m.role, "content": m.text}
            for m in earlier[:-1]
            if m.text and (m.role == "user" or m.status == Message.Status.SUCCEEDED)
        ]
        collections = self.message.conversation.collections.values_list("pk", flat=True)
        return question, history, list(collections) or None

    def _cached_or_generating(self) -> Message | None:
        """The stored answer to the same question from the same passages, or None, the
        message then marked as being written."""
        if self.use_cache and (cached := cached_answer(self.message)):
            return cached
        self._set_status(Message.Status.GENERATING)
        return None

    def _set_status(self, status: str) -> None:
        """Move the answer to `status`, unless it was already finished (the sweeper closed it)."""
        self.message.status = status
        Message.objects.filter(pk=self.message.pk, status__in=Message.OPEN).update(status=status)

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def _call(self, outcome: Outcome, *, first_token_ms: int | None) -> LlmCall:
        return call_row(
            self.user,
            self.message,
            outcome.provider,
            outcome.model,
            outcome.usage,
            first_token_ms,
            self._elapsed_ms(),
            outcome=outcome.call,
            kind=outcome.kind,
            cached=self.message.cached,
            fallback=outcome.fallback,
        )

    async def _finalize(self) -> Message:
        message, outcome = self.message, self.outcome
        text, dropped = drop_unknown_markers("".join(self.text), set(range(1, len(self.hits) + 1)))
        used = used_markers(text)
        message.text = text
        message.unknown_markers = dropped
        message.provider, message.model = outcome.provider, outcome.model
        message.prompt_tokens = outcome.usage.prompt_tokens
        message.completion_tokens = outcome.usage.completion_tokens
        message.cost_usd = price(outcome.model, outcome.usage)
        message.total_ms = self._elapsed_ms()
        message.status = outcome.status
        sources = {
            n: Source(n, hit.url, snippet(hit.text, message.standalone_question, width=240))
            for n, hit in enumerate(self.hits, start=1)
        }
        message.html = render(text, sources)
        calls = [self._call(outcome, first_token_ms=message.first_token_ms)]
        self._traced(outcome)
        await self._save(
            FINAL_FIELDS,
            calls if outcome.provider and not outcome.recorded else [],
            citations=used if outcome.cited else set(),
        )
        self.done = True
        return message

    async def _save(self, fields: tuple[str, ...], calls: list[LlmCall], *, citations=None):
        """Store how the answer ended, on a fresh connection if the database went away meanwhile,
        trying again while it is down: until the heartbeat would go stale (then the sweeper
        closes the answer from what the heartbeats saved)."""
        give_up = time.monotonic() + settings.ANSWER_STALE_S
        for attempt in itertools.count():
            try:
                return await sync_to_async(self._store)(fields, calls, citations=citations)
            except OperationalError as error:
                if time.monotonic() > give_up:
                    raise
                log.warning("saving answer %s failed, trying again: %s", self.message.pk, error)
                await asyncio.sleep(min(0.5 * 2**attempt, 5))

    def _store(self, fields: tuple[str, ...], calls: list[LlmCall], *, citations=None) -> None:
        """Write how the answer ended, unless it was already finished elsewhere (the sweeper
        closed it: that stands); record its calls; settle its quota once; tell followers."""
        message = self.message
        if connection.errors_occurred and not connection.in_atomic_block:
            # A connection an outage broke goes (the pool lends a tested one), not reused to fail.
            connection.close_if_unusable_or_obsolete()
        stored = Message.objects.filter(pk=message.pk, status__in=Message.OPEN).update(
            **{name: getattr(message, name) for name in fields}
        )
        if stored and citations is not None:
            save_citations(message, self.hits, citations)
        if not stored:  # the sweeper closed it meanwhile: our real usage replaces its estimate
            replace_estimate(message)
        record_calls(message, self.calls + calls)
        if stored:
            metrics.answer_finished(
                status=message.status,
                model=message.model,
                first_token_ms=message.first_token_ms,
                total_ms=message.total_ms,
            )
        settle_quota(message)
        notify.send(notify.DONE, str(message.pk))
        if not stored:
            message.refresh_from_db()

    async def save_unfinished(self) -> None:
        """Cancelled (tab closed, Stop) or crashed: keep what was written, say how it ended."""
        if self.done:
            return
        self.done = True
        self.writing = False
        message = self.message
        message.status = Message.Status.CANCELLED
        message.notice = str(notices.STOPPED if self.stopped else notices.CLOSED_EARLY)
        message.text = "".join(self.text)
        message.html = render(message.text, {})
        message.total_ms = self._elapsed_ms()
        calls = []
        if self.text:
            usage = estimate_usage([{"content": message.standalone_question}], self.text)
            outcome = Outcome(
                provider=message.provider or "unknown",
                model=message.model or "unknown",
                usage=usage,
                call=LlmCall.Outcome.CANCELLED,
                kind=LlmCall.Kind.FINAL if message.upgraded else LlmCall.Kind.ANSWER,
            )
            calls.append(self._call(outcome, first_token_ms=message.first_token_ms))
            self._traced(outcome)
        await self._save(UNFINISHED_FIELDS, calls)
        if self.span is not None:  # stopped before any text
            self.span.set_attribute("assistant.outcome", LlmCall.Outcome.CANCELLED)
            self.span.end()

    def _traced(self, outcome: Outcome) -> None:
        """The answer model's span ends with the model, tokens, first token time and outcome."""
        if self.span is None:
            return
        self.span.set_attributes(
            {
                **tracing.usage(outcome.model, outcome.usage),
                "assistant.first_token_ms": self.message.first_token_ms or 0,
                "assistant.outcome": outcome.call,
                "assistant.fallback": outcome.fallback,
            }
        )
        self.span.end()
        self.span = None
