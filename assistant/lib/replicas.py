"""Search reads from PostgreSQL streaming replicas (DATABASE_REPLICA_URLS), falling back to the
primary. Writes, quota counters and every other read stay on the primary ("default").

How a search picks where to read (`for_search`):
- Inside a transaction on the primary it reads the primary: that transaction may hold writes of
  its own that no replica can see.
- Otherwise it asks the primary how far its WAL is flushed (`pg_current_wal_flush_lsn()`, no
  table read) and reads a replica only once that replica has replayed as far. Everything
  committed before the search began is then on the replica: a document that just became READY,
  a collection just shared, the request's own earlier writes. (A transaction committed with
  `synchronous_commit = off` is visible before it is flushed; the app never turns it off.)
- A replica gets DATABASE_REPLICA_MAX_LAG_MS to catch up. One still behind is lagging: the search
  reads the primary, and the log says which replica, how many bytes behind, how long since it
  last replayed a transaction and whether replay is paused.
- A replica that cannot be reached, is not in recovery (promoted: it no longer follows the
  primary), or whose read fails (a query cancelled by a replay conflict) is down: the read runs
  again on the primary, and the log says which replica and why.
A replica found lagging or down is left alone for DATABASE_REPLICA_RETRY_S, so a dead one costs
one connection attempt per period, not one per query. The healthy ones are tried in random order.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, Error, connections

log = logging.getLogger(__name__)
T = TypeVar("T")

# Replica alias -> time.monotonic() until which it is not tried.
_resting: dict[str, float] = {}
_lock = threading.Lock()


class PrimaryRouter:
    """Writes go to the primary, whichever database an object was read from; migrations run
    there only (a replica follows them through its WAL)."""

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


def replica_aliases() -> list[str]:
    """replica_1, replica_2, ...: one per DATABASE_REPLICA_URLS entry (see settings)."""
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


def for_search() -> str:
    """The database alias a search reads from (see the module docstring)."""
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    ready = [alias for alias in replica_aliases() if not _is_resting(alias)]
    if not ready:
        return DEFAULT_DB_ALIAS
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_flush_lsn()")
        flushed = cursor.fetchone()[0]
    random.shuffle(ready)
    for alias in ready:
        try:
            if _caught_up(alias, flushed):
                return alias
        except Error as error:
            _rest(alias, "is down: " + " ".join(str(error).split()))
    return DEFAULT_DB_ALIAS


def read(alias: str, reader: Callable[..., T], /, *args, **kwargs) -> T:
    """`reader(*args, using=alias, **kwargs)`; on the primary instead when the replica has been
    found down since it was chosen, or fails now."""
    if alias != DEFAULT_DB_ALIAS and not _is_resting(alias):
        try:
            return reader(*args, using=alias, **kwargs)
        except Error as error:
            _rest(alias, "is down: " + " ".join(str(error).split()))
    return reader(*args, using=DEFAULT_DB_ALIAS, **kwargs)


def _caught_up(alias: str, flushed: str) -> bool:
    """Has `alias` replayed the primary's WAL up to `flushed`, within the lag allowed? If not,
    it rests, with a log line saying why."""
    deadline = time.monotonic() + settings.DATABASE_REPLICA_MAX_LAG_MS / 1000
    with connections[alias].cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() >= %s::pg_lsn", [flushed]
            )
            in_recovery, replayed = cursor.fetchone()
            if replayed or not in_recovery or time.monotonic() >= deadline:
                break
            time.sleep(0.002)
        if in_recovery and not replayed:
            cursor.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()),"
                " extract(epoch FROM now() - pg_last_xact_replay_timestamp()),"
                " pg_is_wal_replay_paused()",
                [flushed],
            )
            behind, since, paused = cursor.fetchone()
    if not in_recovery:
        # Promoted: its positions no longer compare with the primary's.
        _rest(alias, "is down: it is not in recovery, so it no longer follows the primary")
        return False
    if replayed:
        _back(alias)
        return True
    _rest(
        alias,
        f"is lagging: {int(behind)} bytes of WAL behind the primary after "
        f"{settings.DATABASE_REPLICA_MAX_LAG_MS} ms, last transaction replayed "
        + (f"{float(since):.1f} s ago" if since is not None else "never")
        + ("; replay is paused" if paused else ""),
    )
    return False


def _is_resting(alias: str) -> bool:
    return _resting.get(alias, 0.0) > time.monotonic()


def _rest(alias: str, why: str) -> None:
    with _lock:
        _resting[alias] = time.monotonic() + settings.DATABASE_REPLICA_RETRY_S
    # A broken connection must not be lent again; a pooled one goes back to its pool's check.
    connections[alias].close()
    log.warning(
        "read replica %s (%s) %s; searches read the primary for the next %s s",
        alias,
        _address(alias),
        why,
        settings.DATABASE_REPLICA_RETRY_S,
    )


def _back(alias: str) -> None:
    with _lock:
        came_back = _resting.pop(alias, None) is not None
    if came_back:
        log.info("read replica %s (%s) serves searches again", alias, _address(alias))


def _address(alias: str) -> str:
    database = settings.DATABASES[alias]
    return f"{database['HOST']}:{database['PORT']}/{database['NAME']}"
