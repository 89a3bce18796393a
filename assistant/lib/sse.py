"""Server-sent events: named events whose data is an HTML fragment (the htmx SSE extension) or
JSON (the API)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

KEEPALIVE_S = 15.0


def event(name: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.split("\n"))
    return f"event: {name}\n{data}\n\n"


def response(events: AsyncIterator, render: Callable[[Any], str]) -> StreamingHttpResponse:
    """`events` as a text/event-stream, each written by `render` (which may use the ORM), with
    keep-alives; proxies are asked not to buffer it."""

    async def rendered():
        async for item in events:
            yield await sync_to_async(render)(item)

    streamed = StreamingHttpResponse(with_keepalive(rendered()), content_type="text/event-stream")
    streamed["Cache-Control"] = "no-cache"
    streamed["X-Accel-Buffering"] = "no"
    return streamed


async def with_keepalive(events: AsyncIterator[str], every: float = KEEPALIVE_S):
    """Relay `events`, sending an SSE comment whenever nothing was sent for `every` seconds,
    so proxies do not close a connection waiting on a slow retrieval or first token."""
    iterator = aiter(events)
    pending = asyncio.ensure_future(anext(iterator))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield ": keep-alive\n\n"
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            yield item
            pending = asyncio.ensure_future(anext(iterator))
    finally:
        if pending.done():
            await iterator.aclose()
        else:
            # Cancelling the running step ends the generator (its finally blocks run).
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
