"""Parse an untrusted file in a child process inside hard limits.

The checks before parsing refuse the bombs we know; this bounds the ones we do not. The child is
forked from the worker (nothing to load again), gets an address-space limit of what it already
has plus PARSE_MAX_MEMORY_MB and a CPU-time limit, parses, and sends the parsed document back
through a pipe. Past a limit the parse fails with a reason that names the setting; whatever the
parser took dies with the child, so the worker keeps its own memory.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path

from django.utils.translation import gettext

from ingest.formats import IngestError, Parsed, ParseLimits
from ingest.parsers import parse

_OK, _FAILED, _OUT_OF_MEMORY, _CRASHED = "ok", "failed", "memory", "crashed"


class ParserCrashed(Exception):
    """The parser raised something other than IngestError (a bug to report, not a bad file)."""


def parse_isolated(
    data: bytes,
    filename: str,
    *,
    limits: ParseLimits,
    max_memory_mb: int,
    max_seconds: float,
    heartbeat: Callable[[], None] = lambda: None,
    heartbeat_every_s: float = 30.0,
) -> Parsed:
    """`heartbeat` is called every `heartbeat_every_s` while the child works (a long OCR run
    renews its document's lease); what it raises stops the parse."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(write_end, data, filename, limits, max_memory_mb * 2**20, max_seconds)
    os.close(write_end)
    try:
        payload = _read_until(
            read_end,
            deadline=time.monotonic() + max_seconds,
            heartbeat=heartbeat,
            every_s=heartbeat_every_s,
        )
    finally:
        os.close(read_end)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # done (or past its time): it goes now
        _, status = os.waitpid(pid, 0)
    if payload is None:
        raise IngestError(_seconds_message(max_seconds))
    if not payload:
        raise IngestError(_death_reason(status, max_memory_mb, max_seconds))
    outcome, value = pickle.loads(payload)
    if outcome == _OK:
        return value
    if outcome == _OUT_OF_MEMORY:
        raise IngestError(_memory_message(max_memory_mb))
    if outcome == _FAILED:
        raise IngestError(value)
    raise ParserCrashed(value)


def _child(
    out: int, data: bytes, filename: str, limits: ParseLimits, budget: int, seconds: float
) -> None:
    address_space = _vm_bytes("VmSize") + budget
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        cpu = max(int(seconds * (os.cpu_count() or 1)), 1)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        try:
            result = (_OK, parse(data, filename, limits=limits))
        except MemoryError:
            result = (_OUT_OF_MEMORY, "")
        except Exception as error:
            # Near the limit a library reports its failed allocation in its own words (lxml: an
            # "unknown error", which the DOCX parser calls damage): the peak tells what it was.
            if _vm_bytes("VmPeak") > address_space - budget // 4:
                result = (_OUT_OF_MEMORY, "")
            elif isinstance(error, IngestError):
                result = (_FAILED, str(error))
            else:
                result = (_CRASHED, _describe(error))
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(out, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(0)


def _read_until(
    fd: int, *, deadline: float, heartbeat: Callable[[], None], every_s: float
) -> bytes | None:
    """All the child writes, or None when it is not done by the deadline."""
    parts = []
    beat = time.monotonic() + every_s
    while True:
        now = time.monotonic()
        if now >= deadline:
            return None
        if now >= beat:
            heartbeat()
            beat = now + every_s
        ready, _, _ = select.select([fd], [], [], min(deadline, beat) - now)
        if not ready:
            continue
        chunk = os.read(fd, 2**20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def _death_reason(status: int, max_memory_mb: int, max_seconds: float) -> str:
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        return _seconds_message(max_seconds)
    return gettext(
        "Reading the file stopped the parser (%(status)s); it may need more than %(mb)d MB "
        "(PARSE_MAX_MEMORY_MB). Check the file, or raise the limit."
    ) % {"status": _describe_status(status), "mb": max_memory_mb}


def _memory_message(max_memory_mb: int) -> str:
    return gettext(
        "Reading the file needed more than %(mb)d MB of memory (PARSE_MAX_MEMORY_MB); it may be "
        "a decompression bomb. Split the document, or raise the limit."
    ) % {"mb": max_memory_mb}


def _seconds_message(max_seconds: float) -> str:
    return gettext(
        "Reading the file took more than %(seconds).0f s (PARSE_MAX_SECONDS). Split the "
        "document, or raise the limit."
    ) % {"seconds": max_seconds}


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    return gettext("exit status %(code)d") % {"code": os.WEXITSTATUS(status)}


def _vm_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")
