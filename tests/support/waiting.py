"""Waiting on an event that another process brings about, with a generous deadline."""

from __future__ import annotations

import time

import pytest


def wait_for(predicate, *, timeout: float = 120, every: float = 0.1):
    """`predicate()`'s first true value, checked every `every` seconds; fails the test past
    `timeout` (a deadline for a broken run, never a measure of speed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {getattr(predicate, '__name__', '')}")
