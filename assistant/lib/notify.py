"""PostgreSQL LISTEN/NOTIFY between processes: one listening connection per process, waking the
asyncio code that waits on a (channel, payload) pair, whatever process sent it.

`send` notifies from synchronous code (its transaction's commit delivers it). `waiting` is an
async context manager giving an asyncio.Event set when the pair is notified, or when the
listener (re)connects: a notification sent while it was not listening may be lost, so a woken
waiter reads the database to see what really happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator

import psycopg
from django.db import connection

from assistant.lib.backoff import backoff_s

log = logging.getLogger(__name__)

STOP = "answer_stop"  # payload: a message id; its stream stops
DONE = "answer_done"  # payload: a message id; it is finished
CHANNELS = (STOP, DONE)
_LIBPQ_OPTIONS = {"sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options"}


def send(channel: str, payload: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


class _Listener(threading.Thread):
    """The process's one LISTEN connection; wakes waiters through their event loops."""

    def __init__(self, conninfo: str) -> None:
        super().__init__(name="pg-listener", daemon=True)
        self.conninfo = conninfo
        self.lock = threading.Lock()
        self.waiters: dict[tuple[str, str], set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]]
        self.waiters = defaultdict(set)
        self.connected = threading.Event()
        self.closing = threading.Event()

    def add(self, key: tuple[str, str], waiter) -> None:
        with self.lock:
            self.waiters[key].add(waiter)

    def remove(self, key: tuple[str, str], waiter) -> None:
        with self.lock:
            self.waiters[key].discard(waiter)
            if not self.waiters[key]:
                del self.waiters[key]

    def wake(self, key: tuple[str, str] | None = None) -> None:
        """Wake the waiters on `key`, or every waiter."""
        with self.lock:
            if key is None:
                chosen = [w for waiters in self.waiters.values() for w in waiters]
            else:
                chosen = list(self.waiters.get(key, ()))
        for loop, event in chosen:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(event.set)

    def run(self) -> None:
        attempt = 0
        while not self.closing.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as listening:
                    for channel in CHANNELS:
                        listening.execute(f"LISTEN {channel}")
                    attempt = 0
                    self.connected.set()
                    self.wake()  # anything sent while not listening: look again
                    while not self.closing.is_set():
                        for notice in listening.notifies(timeout=1.0):
                            self.wake((notice.channel, notice.payload))
                self.connected.clear()
            except psycopg.Error as error:
                self.connected.clear()
                log.warning("LISTEN connection lost, reconnecting: %s", error)
                time.sleep(backoff_s(min(attempt, 5), base=0.2) + 0.05)
                attempt += 1


def _conninfo() -> str:
    params = connection.settings_dict
    options = {k: v for k, v in params.get("OPTIONS", {}).items() if k in _LIBPQ_OPTIONS}
    return psycopg.conninfo.make_conninfo(
        dbname=params["NAME"],
        user=params.get("USER") or None,
        password=params.get("PASSWORD") or None,
        host=params.get("HOST") or None,
        port=params.get("PORT") or None,
        application_name="assistant-listener",
        **options,
    )


_listener: _Listener | None = None
_start_lock = threading.Lock()


def _running_listener() -> _Listener:
    global _listener
    with _start_lock:
        if _listener is None or not _listener.is_alive():
            _listener = _Listener(_conninfo())
            _listener.start()
        return _listener


def close() -> None:
    """Stop listening and close the connection (before its database is dropped)."""
    global _listener
    with _start_lock:
        if _listener is not None:
            _listener.closing.set()
            _listener.join(timeout=5)
            _listener = None


@contextlib.asynccontextmanager
async def waiting(channel: str, payload: str) -> AsyncIterator[asyncio.Event]:
    """An event set when `payload` is notified on `channel` (or the listener reconnects). Waits
    until the listener is connected, so nothing sent after entering is missed; read the state
    you wait for after entering, since a notification sent before it is gone."""
    listener = _running_listener()
    key = (channel, payload)
    waiter = (asyncio.get_running_loop(), asyncio.Event())
    listener.add(key, waiter)
    try:
        if not listener.connected.is_set():
            await asyncio.to_thread(listener.connected.wait, 10)
        yield waiter[1]
    finally:
        listener.remove(key, waiter)
