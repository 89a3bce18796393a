"""Server-sent events for the htmx SSE extension: named events whose data is an HTML fragment."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

KEEPALIVE_S = 15.0


def event(name: str, html: str) -> str:
    data = "\n".join(f"data: {line}" for line in html.split("\n"))
    return f"event: {name}\n{data}\n\n"


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
