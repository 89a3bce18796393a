"""The SSE relay: keep-alives while nothing comes, what piled up merged for a slow client, the
producer cancelled when the client goes away."""

from __future__ import annotations

import asyncio

from assistant.chat.events import Event, Kind, merge_deltas
from assistant.lib import sse


async def render(item: Event) -> str:
    return sse.event(item.kind, item.data)


def test_a_slow_client_gets_what_piled_up_as_one_event_and_loses_nothing():
    produced = asyncio.Event()

    async def burst():
        yield Event(Kind.STATUS, "generating")
        for word in ["Each ", "person ", "may ", "ask."]:
            yield Event(Kind.DELTA, word)
        yield Event(Kind.DONE, "end")
        produced.set()

    async def read_slowly() -> list[str]:
        written = []
        async for chunk in sse.relay(burst(), render, merge_deltas):
            written.append(chunk)
            async with asyncio.timeout(60):  # a client busy until all the rest has piled up
                await produced.wait()
        return written

    written = "".join(asyncio.run(read_slowly()))
    assert written.count("event: delta") == 1
    assert "data: Each person may ask." in written
    assert written.index("generating") < written.index("Each") < written.index("end")


def test_keep_alives_while_waiting_and_the_producer_cancelled_when_the_client_leaves():
    finished = []

    async def slow():
        try:
            yield Event(Kind.STATUS, "retrieving")
            await asyncio.Event().wait()  # a retrieval that never ends
            yield Event(Kind.DELTA, "never")
        finally:
            finished.append(True)

    async def leave_after_two() -> list[str]:
        written = []
        relay = sse.relay(slow(), render, merge_deltas, every=0.05)
        async for chunk in relay:
            written.append(chunk)
            if len(written) == 3:
                break
        await relay.aclose()
        return written

    written = asyncio.run(leave_after_two())
    assert written[0].startswith("event: status")
    assert written[1:] == [": keep-alive\n\n", ": keep-alive\n\n"]
    assert finished == [True]
