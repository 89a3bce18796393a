"""What an answer's stream yields: its status, its text as it comes, then the finished message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    STATUS = "status"  # data: the Message.Status now
    DELTA = "delta"  # data: text to append
    DONE = "done"  # data: the finished Message


@dataclass(frozen=True)
class Event:
    kind: Kind
    data: Any


def merge_deltas(events: list[Event]) -> list[Event]:
    """Consecutive text as one event: what a client that fell behind gets in one write."""
    merged: list[Event] = []
    for event in events:
        if merged and event.kind == Kind.DELTA and merged[-1].kind == Kind.DELTA:
            merged[-1] = Event(Kind.DELTA, merged[-1].data + event.data)
        else:
            merged.append(event)
    return merged
