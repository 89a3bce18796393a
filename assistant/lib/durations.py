"""Intervals written the way operators write them: 1d, 12h, 30m, 1h30m, 2w."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_PART = re.compile(r"(\d+)\s*([wdhms])")


def parse_every(text: str) -> timedelta:
    """`1d` -> one day. Raises ValueError for anything else, or for an interval under a minute."""
    cleaned = text.strip().lower().replace(" ", "")
    if not cleaned or _PART.sub("", cleaned):
        raise ValueError(f"{text!r} is not an interval such as 1d, 12h, 30m or 1h30m")
    every = timedelta(**{_UNITS[unit]: int(number) for number, unit in _PART.findall(cleaned)})
    if every < timedelta(minutes=1):
        raise ValueError(f"{text!r} is shorter than a minute")
    return every


def format_every(every: timedelta) -> str:
    """The shortest way to write it back: one day -> 1d, 90 minutes -> 1h30m."""
    seconds = int(every.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"
