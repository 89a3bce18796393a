"""What the app adds to a streamed answer, against the Qwen stand-in with a fixed upstream time.

    .venv/bin/python bench/stream_latency.py --chunks 100000 --streams 1,50,200,500 [--json]

Setup: a throwaway embedded PostgreSQL (`ScratchDatabase`) holding `--chunks` synthetic chunks
(`bench/synthetic.py`) in one public collection; the scripted stand-in (tests/support/
qwen_standin.py) as its own process, answering every chat request after `--first-token-ms` with
`--tokens` deltas `--token-gap-ms` apart; the app under one uvicorn process (one worker) pointed
at it, with quotas and the per-user open-stream limit switched off. Each question is distinct
(the answer cache never hits) and was checked beforehand to be one the documents cover, so
every stream calls the model.

The client does what the browser does: logs in through the login form (several users), POSTs
`/chat/new` and `/chat/<id>/ask` (htmx fragment, CSRF header), then GETs
`/chat/messages/<id>/stream` and reads the server-sent events.

Measured per stream, all on `time.monotonic()` (one clock for every process on Linux):
- added before the first token = (client: stream request opened -> first `delta` event read)
  minus (stand-in: that request received -> first content delta flushed), the upstream time
  measured per request rather than the scripted delay assumed. It splits into "before
  upstream" (request opened -> stand-in received the chat call: session, message claim, query
  embedding, retrieval SQL, status writes, prompt) and "first-token relay" (stand-in flushed
  the first delta -> client read it: the SDK, the pipeline, template rendering, uvicorn).
  "Before upstream" splits again with the message's stored `first_token_ms` (the pipeline's own
  clock, from after the session, message and claim queries to the SDK's first token): "request
  setup" before the pipeline starts, "pipeline" from there to the model call.
- per-token relay = client read delta i - stand-in flushed delta i, over every delta.
- errors: a non-200, a transport error, no `done` event, fewer deltas than the stand-in sent, an
  answer the model did not write, or a stored message that did not end SUCCEEDED.

Level 1 is `--samples` streams one after another. Level N opens N streams spread evenly over
`--ramp-s` seconds (streams outlast the ramp, so up to N are open at once; "peak open" says how
many were). Memory per stream = (uvicorn's peak RSS during the level - its RSS just before) / N;
the allocator keeps what an earlier level grew, so later levels understate it a little.

The retrieval profile (embedding the query, dense and lexical SQL, fusion) comes from running
`retrieval.search` in this process over the same questions while checking they are covered.
`--profile DIR` also samples the app with py-spy, one collapsed-stack file per level: at level 1
every thread, waiting ones included (which query a request waits on), above it only the thread
holding the GIL (where the process's one core of Python goes). It slows the app: profile in a
separate run from the one whose figures you report.

`--traces` turns OpenTelemetry on in the app: it exports every span over OTLP/HTTP to a sink on
loopback in this process that reads and drops them (run once with and once without to see what
tracing costs). Prometheus metrics are always counted; `--traces` also scrapes /metrics once a
second, as a Prometheus would.

Caveat: the client, the stand-in, uvicorn and PostgreSQL share this machine's cores (2 on the
development machine) and other work may run meanwhile: the load average is printed at the start
and the end, and CPU seconds per process per level show who took the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, ScratchDatabase, stamp
from synthetic import CORPUS

from ingest.search.evaluation import percentile

PASSWORD = "bench-password-4821"
WARMUP_STREAMS = 5
SERVER_LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")


@dataclass
class Stream:
    question: str
    user: int
    message_id: int = 0
    ask_ms: float = 0.0
    opened: float = 0.0
    closed: float = 0.0
    status: int = 0
    deltas: list[float] = field(default_factory=list)
    done: bool = False
    error: str = ""


@dataclass
class Level:
    streams: int
    samples: list[Stream]
    rss_before: int
    rss_peak: int
    threads_peak: int
    pg_connections_peak: int
    cpu_s: dict[str, float]
    seconds: float


def loadavg() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# --- data ----------------------------------------------------------------------------------------


def covered_questions(count: int, user, seed: int = 7) -> tuple[list[str], list[dict]]:
    """Distinct questions built from random chunks' words, kept only when retrieval finds the
    documents cover them (otherwise the app answers without calling the model)."""
    from ingest.models import Chunk
    from ingest.search.retrieval import search

    rng = random.Random(seed)
    ids = list(Chunk.objects.values_list("pk", flat=True))
    questions: list[str] = []
    timings: list[dict] = []
    seen: set[str] = set()
    search("warm up the embedder", user=user, k=8)
    tries = 0
    while len(questions) < count:
        tries += 1
        if tries > 4 * count + 100:
            raise SystemExit(f"only {len(questions)} of {count} questions are covered")
        text = Chunk.objects.only("text").get(pk=rng.choice(ids)).text
        words = [w for w in re.findall(r"[A-Za-z]{4,}", text)]
        if len(words) < 8:
            continue
        start = rng.randrange(len(words) - 6)
        question = f"What does it say about {' '.join(words[start : start + 6]).lower()}?"
        if question in seen:
            continue
        seen.add(question)
        found = search(question, user=user, k=8)
        timings.append(found.timings)
        if not found.nothing_matches:  # the model is asked
            questions.append(question)
    return questions, timings


def make_users(count: int) -> list[str]:
    from django.contrib.auth import get_user_model

    names = [f"bench{i:02d}" for i in range(count)]
    for name in names:
        get_user_model().objects.create_user(name, password=PASSWORD)
    return names


# --- processes -----------------------------------------------------------------------------------


def start_standin(args) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.qwen_standin",
            "--first-token-delay-s",
            str(args.first_token_ms / 1000),
            "--chunk-delay-s",
            str(args.token_gap_ms / 1000),
            "--tokens",
            str(args.tokens),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return process, process.stdout.readline().strip()


METRICS_TOKEN = "bench-metrics-token"


class _Sink(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that reads each export and answers 200."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def start_otlp_sink() -> str:
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{sink.server_port}"


def start_scraper(url: str) -> threading.Event:
    """GET /metrics once a second until the returned event is set."""
    done = threading.Event()

    def scrape() -> None:
        request = urllib.request.Request(
            f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        while not done.wait(1.0):
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()

    threading.Thread(target=scrape, daemon=True).start()
    return done


def start_app(standin_url: str, log: Path) -> tuple[subprocess.Popen, str]:
    from tests.support import app_server

    env = os.environ | {
        "ANSWER_PROVIDER": "qwen",
        "QWEN_BASE_URL": standin_url,
        "QWEN_API_KEY": "sk-bench-not-a-real-key",
        "QUOTA_QUESTIONS_PER_DAY": "0",
        "QUOTA_TOKENS_PER_DAY": "0",
        "QUOTA_COST_PER_MONTH": "0",
        "MAX_OPEN_STREAMS_PER_USER": "0",
        # One model call per answer: the stream's latency, not a second (draft -> final) try.
        "AUTO_UPGRADE": "false",
        # Every benchmark user logs in from 127.0.0.1.
        "LOGIN_ATTEMPTS_PER_ADDRESS": "1000",
        # As in production: one INFO line per model call is part of the cost.
        "LOG_LEVEL": SERVER_LOG_LEVEL,
    }
    try:
        return app_server.start(env, output=log.open("ab"), access_log=False)
    except app_server.ServerDidNotStart as error:
        raise SystemExit(str(error)) from None


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Sampler(threading.Thread):
    """Peak RSS and threads of the app process, and PostgreSQL connections, while a level runs.

    Connections are counted as the postmaster's client backends (their titles name the client's
    address), so counting does not take one of the connections it counts."""

    def __init__(self, pid: int, postmaster: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.postmaster = psutil.Process(postmaster)
        self.halt = threading.Event()
        self.rss_before = self.rss_peak = self.process.memory_info().rss
        self.threads_peak = self.process.num_threads()
        self.connections_peak = 0

    def run(self) -> None:
        import psutil

        tick = 0
        while not self.halt.wait(0.05):
            self.rss_peak = max(self.rss_peak, self.process.memory_info().rss)
            self.threads_peak = max(self.threads_peak, self.process.num_threads())
            tick += 1
            if tick % 4 == 0:
                count = 0
                for child in self.postmaster.children():
                    with contextlib.suppress(psutil.Error):
                        count += "127.0.0.1(" in " ".join(child.cmdline())
                self.connections_peak = max(self.connections_peak, count)

    def finish(self) -> None:
        self.halt.set()
        self.join()


def start_profiler(folder: str | None, pid: int, streams: int) -> subprocess.Popen | None:
    """py-spy (not a dependency: `pip install py-spy` anywhere, or PY_SPY=path) on the app, as
    collapsed stacks, one file per level. Level 1 samples every thread, waiting ones included (a
    request's wall time: which query it waits on); higher levels only the thread holding the GIL
    (where the process's one core of Python goes)."""
    if folder is None:
        return None
    binary = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if binary is None:
        raise SystemExit("--profile needs py-spy on PATH or PY_SPY=/path/to/py-spy")
    Path(folder).mkdir(parents=True, exist_ok=True)
    output = Path(folder) / f"streams-{streams}.txt"
    mode = "--idle" if streams == 1 else "--gil"
    command = [binary, "record", "--pid", str(pid), mode, "--nonblocking", "--format", "raw"]
    return subprocess.Popen(
        [*command, "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def cpu_seconds(pids: dict[str, int], postmaster: int) -> dict[str, float]:
    import psutil

    def used(process) -> float:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return times.user + times.system + times.children_user + times.children_system

    totals = {name: used(psutil.Process(pid)) for name, pid in pids.items()}
    # Backends come and go with connections; the ended ones count in the postmaster's children.
    server = psutil.Process(postmaster)
    totals["postgres"] = used(server) + sum(used(child) for child in server.children())
    return totals


# --- the client ----------------------------------------------------------------------------------


async def log_in(url: str, username: str):
    import httpx

    client = httpx.AsyncClient(
        base_url=url,
        timeout=httpx.Timeout(300),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=1000),
    )
    await client.get("/accounts/login/")
    response = await client.post(
        "/accounts/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    if response.status_code != 302:
        raise SystemExit(f"login failed for {username}: {response.status_code}")
    return client


async def ask(client, stream: Stream) -> None:
    """The browser's two POSTs: a new conversation, then the question (as htmx sends it)."""
    headers = {"X-CSRFToken": client.cookies["csrftoken"]}
    started = time.monotonic()
    created = await client.post("/chat/new", headers=headers)
    conversation = re.search(r"/chat/(\d+)/", created.headers.get("location", ""))
    if conversation is None:
        raise SystemExit(f"/chat/new answered {created.status_code}")
    asked = await client.post(
        f"/chat/{conversation[1]}/ask",
        data={"question": stream.question},
        headers=headers | {"HX-Request": "true"},
    )
    stream.ask_ms = (time.monotonic() - started) * 1000
    found = re.search(r"/chat/messages/(\d+)/stream", asked.text)
    if asked.status_code != 200 or found is None:
        raise SystemExit(f"ask answered {asked.status_code}: {asked.text[:200]}")
    stream.message_id = int(found[1])


async def read_stream(client, stream: Stream, start_at: float) -> None:
    import httpx

    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    stream.opened = time.monotonic()
    try:
        async with client.stream("GET", f"/chat/messages/{stream.message_id}/stream") as response:
            stream.status = response.status_code
            if response.status_code != 200:
                stream.error = f"HTTP {response.status_code}"
                return
            await read_events(response, stream)
    except httpx.HTTPError as error:
        stream.error = type(error).__name__
    finally:
        stream.closed = time.monotonic()


async def read_events(response, stream: Stream) -> None:
    """Timestamp every upstream delta as it arrives. The app may send deltas that piled up as
    one event; each stand-in delta is one word, so an event's words say how many it carries."""
    pending = b""
    async for data in response.aiter_raw():
        now = time.monotonic()
        *events, pending = (pending + data).split(b"\n\n")
        for event in events:
            if event.startswith(b"event: delta"):
                words = b" ".join(
                    line[5:] for line in event.split(b"\n") if line.startswith(b"data:")
                ).split()
                stream.deltas.extend([now] * max(len(words), 1))
            elif event.startswith(b"event: done"):
                stream.done = True


async def read_direct(client, stream: Stream, start_at: float) -> None:
    """The floor: the same client reading the stand-in's stream itself, no app between."""
    import httpx

    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    stream.opened = time.monotonic()
    body = {
        "model": "qwen-plus",
        "stream": True,
        "max_tokens": 800,
        "messages": [{"role": "user", "content": f"Question: {stream.question}"}],
    }
    try:
        async with client.stream("POST", "/chat/completions", json=body) as response:
            stream.status = response.status_code
            if response.status_code != 200:
                stream.error = f"HTTP {response.status_code}"
                return
            async for line in response.aiter_lines():
                if line == "data: [DONE]":
                    stream.done = True
                elif '"content": "' in line and '"content": ""' not in line:
                    stream.deltas.append(time.monotonic())
    except httpx.HTTPError as error:
        stream.error = type(error).__name__
    finally:
        stream.closed = time.monotonic()


async def prepare(clients, streams: list[Stream], parallel: int = 8) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(stream: Stream) -> None:
        async with gate:
            await ask(clients[stream.user], stream)

    await asyncio.gather(*(one(stream) for stream in streams))


async def run_levels(
    args, url: str, standin_url: str, users: list[str], questions: list[str], watch
) -> tuple[list[Level], list[list[Stream]]]:
    import httpx

    clients = [await log_in(url, name) for name in users]
    direct = httpx.AsyncClient(
        base_url=standin_url,
        timeout=httpx.Timeout(300),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=1000),
    )
    floors: list[list[Stream]] = []
    pool = iter(questions)

    def take(count: int) -> list[Stream]:
        return [Stream(next(pool), user=i % len(clients)) for i in range(count)]

    warmup = take(WARMUP_STREAMS)
    await prepare(clients, warmup)
    for stream in warmup:  # loads the embedder, opens the SDK's connection pool
        await read_stream(clients[stream.user], stream, 0)
    levels = []
    for count in args.streams:
        streams = take(args.samples if count == 1 else count)
        await prepare(clients, streams)
        sampler = Sampler(watch["app"], watch["postmaster"])
        cpu_before = cpu_seconds(watch["pids"], watch["postmaster"])
        sampler.start()
        profiler = start_profiler(args.profile, watch["app"], count)
        started = time.monotonic()
        await open_level(
            streams,
            lambda s, at: read_stream(clients[s.user], s, at),
            0 if count == 1 else args.ramp_s,
        )
        seconds = time.monotonic() - started
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
        sampler.finish()
        cpu_after = cpu_seconds(watch["pids"], watch["postmaster"])
        levels.append(
            Level(
                streams=count,
                samples=streams,
                rss_before=sampler.rss_before,
                rss_peak=sampler.rss_peak,
                threads_peak=sampler.threads_peak,
                pg_connections_peak=sampler.connections_peak,
                cpu_s={k: cpu_after[k] - cpu_before[k] for k in cpu_after},
                seconds=seconds,
            )
        )
        print(f"  {count} streams: {seconds:.1f} s, {loadavg()}", file=sys.stderr)
        floor = [Stream(f"direct {count} {i}", user=0) for i in range(len(streams))]
        await open_level(floor, lambda s, at: read_direct(direct, s, at), args.ramp_s)
        floors.append(floor)
        print(f"  {count} streams straight from the stand-in: {loadavg()}", file=sys.stderr)
    for client in [*clients, direct]:
        await client.aclose()
    return levels, floors


async def open_level(streams: list[Stream], read, ramp_s: float) -> None:
    """One after another for a level of 1, else spread evenly over `ramp_s` seconds."""
    started = time.monotonic()
    if len(streams) == 1 or ramp_s == 0:
        for stream in streams:
            await read(stream, 0)
        return
    gap = ramp_s / len(streams)
    await asyncio.gather(*(read(s, started + i * gap) for i, s in enumerate(streams)))


# --- figures -------------------------------------------------------------------------------------


def fetch_upstream(standin_url: str) -> dict[str, dict]:
    import httpx

    root = standin_url.removesuffix("/v1")
    timings = httpx.get(f"{root}/standin/timings", timeout=30).json()["timings"]
    return {t["question"].rsplit("Question: ", 1)[-1]: t for t in timings}


def stored_outcomes(message_ids: list[int]) -> dict[int, tuple[str, str, int | None]]:
    from assistant.chat.models import Message

    rows = Message.objects.filter(pk__in=message_ids).values_list(
        "pk", "status", "provider", "first_token_ms"
    )
    return {pk: (status, provider, first) for pk, status, provider, first in rows}


def pair(values: list[float]) -> dict:
    """Nearest-rank percentiles, as the evaluation's; None when nothing was measured."""
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)
    return {"p50": percentile(ordered, 50), "p95": percentile(ordered, 95)}


def summarise_floor(streams: list[Stream], upstream: dict[str, dict]) -> dict:
    """The same figures for the client reading the stand-in directly."""
    added, relay, errors = [], [], 0
    for s in streams:
        up = upstream.get(s.question)
        if s.error or up is None or not s.done or len(s.deltas) < len(up["flushed"]):
            errors += 1
            continue
        flushed = up["flushed"]
        added.append((s.deltas[0] - s.opened - (flushed[0] - up["received"])) * 1000)
        relay.extend((c - u) * 1000 for c, u in zip(s.deltas, flushed, strict=False))
    return {"errors": errors, "added_first_token_ms": pair(added), "token_relay_ms": pair(relay)}


def summarise(level: Level, upstream: dict[str, dict], stored: dict) -> dict:
    errors: Counter[str] = Counter()
    added, before, relay_first, relay_all, gap_stretch, ask_ms = [], [], [], [], [], []
    setup, pipeline = [], []
    for s in level.samples:
        up = upstream.get(s.question)
        status, provider, first_token_ms = stored.get(s.message_id, ("missing", "", None))
        if s.error:
            errors[s.error] += 1
        elif up is None:
            errors["answered without the model"] += 1
        elif not s.deltas or len(s.deltas) < len(up["flushed"]):
            errors["deltas lost"] += 1
        elif not s.done:
            errors["no done event"] += 1
        elif status != "succeeded" or provider != "qwen":
            errors[f"stored {status}/{provider}"] += 1
        else:
            flushed = up["flushed"]
            upstream_ttft = flushed[0] - up["received"]
            added.append((s.deltas[0] - s.opened - upstream_ttft) * 1000)
            before.append((up["received"] - s.opened) * 1000)
            # The pipeline's own clock starts after the session, message and claim queries and
            # stops when the SDK hands over the first token: the difference from the upstream
            # time is what the pipeline spent before (and right after) the model call.
            if first_token_ms is not None:
                pipeline.append(first_token_ms - upstream_ttft * 1000)
                setup.append(before[-1] - pipeline[-1])
            relay_first.append((s.deltas[0] - flushed[0]) * 1000)
            relay_all.extend((c - u) * 1000 for c, u in zip(s.deltas, flushed, strict=False))
            n = len(flushed) - 1
            if n > 0:
                client_gap = (s.deltas[n] - s.deltas[0]) / n
                gap_stretch.append((client_gap - (flushed[n] - flushed[0]) / n) * 1000)
            ask_ms.append(s.ask_ms)
    # How many streams were open at once, from the client's open/close times.
    edges = sorted([(s.opened, 1) for s in level.samples] + [(s.closed, -1) for s in level.samples])
    open_now = peak_open = 0
    for _, step in edges:
        open_now += step
        peak_open = max(peak_open, open_now)

    grown = max(0, level.rss_peak - level.rss_before)
    return {
        "streams": level.streams,
        "samples": len(level.samples),
        "ok": len(added),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "added_first_token_ms": pair(added),
        "before_upstream_ms": pair(before),
        "request_setup_ms": pair(setup),
        "pipeline_before_upstream_ms": pair(pipeline),
        "first_token_relay_ms": pair(relay_first),
        "token_relay_ms": pair(relay_all),
        "gap_stretch_ms": pair(gap_stretch),
        "ask_post_ms": pair(ask_ms),
        "peak_open": peak_open,
        "rss_before_mib": level.rss_before / 2**20,
        "rss_peak_mib": level.rss_peak / 2**20,
        "kib_per_stream": grown / 1024 / level.streams if level.streams > 1 else None,
        "threads_peak": level.threads_peak,
        "pg_connections_peak": level.pg_connections_peak,
        "cpu_s": level.cpu_s,
        "seconds": level.seconds,
    }


def level_label(row: dict) -> str:
    return f"1 (×{row['samples']} in a row)" if row["streams"] == 1 else str(row["streams"])


def ms(pair: dict) -> str:
    if pair["p50"] is None:
        return "–"
    return f"{pair['p50']:.1f} / {pair['p95']:.1f}"


def print_report(report: dict) -> None:
    s = report["settings"]
    print(f"Streaming latency benchmark, {report['stamp']}")
    print(f"start: {report['load_start']}; end: {report['load_end']}")
    print(
        "The client, the stand-in, uvicorn and PostgreSQL share the machine's cores, and other "
        "work may run on it meanwhile."
    )
    print(
        f"{report['chunks']:,} chunks; upstream: first token after {s['first_token_ms']} ms, "
        f"{s['tokens']} deltas {s['token_gap_ms']} ms apart; level 1 = {s['samples']} streams "
        f"in a row, level N = N streams opened over {s['ramp_s']} s; one uvicorn process "
        f"({report['uvicorn']})."
    )
    print(f"Synthetic data (bench/synthetic.py): {report['data']}.")
    print()
    print(
        "| streams | errors | added before 1st token p50 / p95 (ms) | before upstream "
        "| = request setup | + pipeline | 1st-token relay | per-token relay | gap stretch "
        "| direct floor: added / per-token |"
    )
    print("|" + "---|" * 10)
    for row in report["levels"]:
        floor = row["floor"]
        floor_errors = f" ({floor['errors']} errors)" if floor["errors"] else ""
        errors = str(row["errors"])
        if row["error_kinds"]:
            errors += " (" + ", ".join(f"{k}: {v}" for k, v in row["error_kinds"].items()) + ")"
        print(
            f"| {level_label(row)} | {errors} | **{ms(row['added_first_token_ms'])}** "
            f"| {ms(row['before_upstream_ms'])} | {ms(row['request_setup_ms'])} "
            f"| {ms(row['pipeline_before_upstream_ms'])} | {ms(row['first_token_relay_ms'])} "
            f"| {ms(row['token_relay_ms'])} | {ms(row['gap_stretch_ms'])} "
            f"| {ms(floor['added_first_token_ms'])} / {ms(floor['token_relay_ms'])}"
            f"{floor_errors} |"
        )
    print()
    print(
        "| streams | peak open | wall s | app RSS before → peak (MiB) | per stream (KiB) "
        "| app threads | PG connections | CPU s: app / stand-in / client / PostgreSQL |"
    )
    print("|" + "---|" * 8)
    for row in report["levels"]:
        cpu = row["cpu_s"]
        per_stream = "–" if row["kib_per_stream"] is None else f"{row['kib_per_stream']:.0f}"
        print(
            f"| {level_label(row)} | {row['peak_open']} | {row['seconds']:.1f} "
            f"| {row['rss_before_mib']:.0f} → {row['rss_peak_mib']:.0f} | {per_stream} "
            f"| {row['threads_peak']} | {row['pg_connections_peak']} "
            f"| {cpu['app']:.1f} / {cpu['standin']:.1f} / {cpu['client']:.1f} / "
            f"{cpu['postgres']:.1f} |"
        )
    print()
    print(
        "All figures in ms are p50 / p95. Before upstream = stream request opened -> stand-in "
        "received the model call; request setup = up to the pipeline's start (session, message, "
        "claim); pipeline = retrieval, status writes, prompt, SDK. Gap stretch = the client's "
        "mean gap between deltas minus the stand-in's."
    )
    if report["app_log"]:
        print()
        print("The app's log: " + "; ".join(report["app_log"]) + ".")
    first = report["levels"][0]
    print()
    print(
        f"Before the stream opens, the browser's two POSTs (new conversation, ask), at level "
        f"{first['streams']}: p50 / p95 {ms(first['ask_post_ms'])} ms."
    )
    print()
    print(
        f"Retrieval in-process at {report['chunks']:,} chunks ({report['retrieval_runs']} "
        "questions), p50 / p95 ms:"
    )
    print("| stage | p50 / p95 (ms) |")
    print("|---|---|")
    for stage, pair in report["retrieval_ms"].items():
        print(f"| {stage} | {ms(pair)} |")


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--base-chunks", type=int, default=3000, help="real chunks to vary")
    parser.add_argument("--corpus", default=str(CORPUS), help="the pages the text is drawn from")
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument("--streams", default="1,50,200,500,1000")
    parser.add_argument("--samples", type=int, default=30, help="sequential streams at level 1")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--first-token-ms", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--token-gap-ms", type=int, default=40)
    parser.add_argument("--ramp-s", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the app per level into DIR")
    parser.add_argument(
        "--traces",
        action="store_true",
        help="export spans to a loopback OTLP sink, scrape /metrics",
    )
    args = parser.parse_args()
    args.streams = [int(n) for n in args.streams.split(",")]

    os.environ["LOG_LEVEL"] = "WARNING"  # this process's own Django and httpx chatter
    if args.traces:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = start_otlp_sink()
        os.environ["METRICS_TOKEN"] = METRICS_TOKEN
    load_start = loadavg()
    print(f"start: {load_start}", file=sys.stderr)
    # 500 streams hold ~3 sockets each in the app and more in the client: lift the soft limit
    # for this process and, inherited, for the stand-in and uvicorn.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    processes: list[subprocess.Popen] = []
    with ScratchDatabase() as scratch:
        from django.contrib.auth import get_user_model
        from django.db import connections
        from synthetic import load_synthetic_chunks

        from ingest.models import Collection

        collection = Collection.objects.create(name="bench", is_public=True)
        loaded = load_synthetic_chunks(
            args.chunks,
            collection,
            base_chunks=args.base_chunks,
            corpus=args.corpus,
            maintenance_work_mem=args.maintenance_work_mem,
            progress=lambda line: print(f"  {line}", file=sys.stderr),
        )
        print(f"  {loaded.summary()}", file=sys.stderr)
        users = make_users(args.users)

        needed = WARMUP_STREAMS + sum(args.samples if n == 1 else n for n in args.streams)
        started = time.monotonic()
        questions, retrieval = covered_questions(
            needed, get_user_model().objects.get(username=users[0])
        )
        print(
            f"  {needed} covered questions in {time.monotonic() - started:.0f} s", file=sys.stderr
        )
        connections.close_all()
        try:
            standin, standin_url = start_standin(args)
            processes.append(standin)
            app, url = start_app(standin_url, scratch.root / "uvicorn.log")
            processes.append(app)
            postmaster = int(
                (Path(scratch.server.data_dir) / "postmaster.pid").read_text().split()[0]
            )
            watch = {
                "app": app.pid,
                "postmaster": postmaster,
                "pids": {"app": app.pid, "standin": standin.pid, "client": os.getpid()},
            }
            scraper = start_scraper(url) if args.traces else None
            levels, floors = asyncio.run(
                run_levels(args, url, standin_url, users, questions, watch)
            )
            if scraper:
                scraper.set()
            upstream = fetch_upstream(standin_url)
        finally:
            for process in reversed(processes):
                stop(process)
            log = scratch.root / "uvicorn.log"
            app_log = problem_lines(log) if log.exists() else []
            if app_log:
                print("uvicorn's log: " + "; ".join(app_log), file=sys.stderr)
        stored = stored_outcomes([s.message_id for level in levels for s in level.samples])
        connections.close_all()

    stages = ["embed_ms", "dense_ms", "lexical_ms", "fuse_ms", "coverage_ms", "total_ms"]
    for timing in retrieval:
        # `search` times every step but the coverage query, which runs last.
        named = sum(timing[stage] for stage in ("embed_ms", "dense_ms", "lexical_ms", "fuse_ms"))
        timing["coverage_ms"] = timing["total_ms"] - named
    report = {
        "stamp": stamp(),
        "load_start": load_start,
        "load_end": loadavg(),
        "chunks": args.chunks,
        "data": loaded.summary(),
        "uvicorn": uvicorn_flavour(),
        "settings": {
            "first_token_ms": args.first_token_ms,
            "tokens": args.tokens,
            "token_gap_ms": args.token_gap_ms,
            "ramp_s": args.ramp_s,
            "samples": args.samples,
            "users": args.users,
        },
        "levels": [
            summarise(level, upstream, stored) | {"floor": summarise_floor(floor, upstream)}
            for level, floor in zip(levels, floors, strict=True)
        ],
        "app_log": app_log,
        "retrieval_runs": len(retrieval),
        "retrieval_ms": {stage: pair([t[stage] for t in retrieval]) for stage in stages},
    }
    print_report(report)
    if args.json:
        print(json.dumps(report, indent=2))


def problem_lines(log: Path) -> list[str]:
    """The app's WARNING/ERROR records, and the exceptions that ended its tracebacks, counted."""
    lines = log.read_text(errors="replace").splitlines()
    records = sum(bool(re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)) for line in lines)
    exceptions = Counter(
        line[:200] for line in lines if re.match(r"[\w.]+(Error|Exception|Refused)\b", line)
    )
    if not records and not exceptions:
        return []
    return [f"{records} warning/error records"] + [
        f"{count} x {line}" for line, count in exceptions.most_common(5)
    ]


def uvicorn_flavour() -> str:
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio loop"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop}, {http}"


if __name__ == "__main__":
    main()
