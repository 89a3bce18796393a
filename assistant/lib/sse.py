"""Server-sent events: named events whose data is an HTML fragment (the htmx SSE extension) or
JSON (the API)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from django.http import StreamingHttpResponse

KEEPALIVE_S = 15.0
_END = object()


def event(name: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.split("\n"))
    return f"event: {name}\n{data}\n\n"


def response(
    events: AsyncIterator,
    render: Callable[[Any], Awaitable[str]],
    merge: Callable[[list[Any]], list[Any]] = list,
) -> StreamingHttpResponse:
    """`events` as a text/event-stream, each written by the coroutine `render`, with
    keep-alives; proxies are asked not to buffer it. Events that piled up while the client was
    slow to read are passed to `merge` first (to send consecutive text as one event)."""
    streamed = StreamingHttpResponse(relay(events, render, merge), content_type="text/event-stream")
    streamed["Cache-Control"] = "no-cache"
    streamed["X-Accel-Buffering"] = "no"
    return streamed


async def relay(
    events: AsyncIterator,
    render: Callable[[Any], Awaitable[str]],
    merge: Callable[[list[Any]], list[Any]] = list,
    every: float = KEEPALIVE_S,
) -> AsyncIterator[str]:
    """Read `events` in a task of their own, so a slow client never holds the producer up, and
    write what they became: an SSE comment whenever nothing was sent for `every` seconds (so
    proxies do not close a connection waiting on a slow retrieval or first token), or all that
    is waiting at once. Closing this generator (the client went away) cancels the producer,
    whose finally blocks run."""
    queue: asyncio.Queue = asyncio.Queue()
    producer = asyncio.create_task(_produce(events, queue))
    try:
        while True:
            try:
                async with asyncio.timeout(every):
                    waiting = [await queue.get()]
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            while not queue.empty():
                waiting.append(queue.get_nowait())
            ended = waiting[-1] is _END
            if ended:
                waiting.pop()
            if waiting:
                yield "".join([await render(item) for item in merge(waiting)])
            if ended:
                await producer  # raises what the events raised
                return
    finally:
        if not producer.done():
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer


async def _produce(events: AsyncIterator, queue: asyncio.Queue) -> None:
    try:
        async for item in events:
            queue.put_nowait(item)
    finally:
        queue.put_nowait(_END)
