"""A scripted stand-in for Qwen's OpenAI-compatible endpoint: a real HTTP server on loopback.

It speaks `/v1/chat/completions` (streamed as SSE over chunked encoding, or whole), with
`stream_options.include_usage` and `reasoning_content` deltas when `enable_thinking` is on,
`/v1/embeddings` with deterministic vectors, and DashScope's text-rerank endpoint
(`/api/v1/services/rerank/text-rerank/text-rerank`), scoring each document by the share of the
query's words it holds, or as scripted (`Reply.scores`). Tests queue replies with `script(...)`
for streamed answers (and embeddings), `script_completion(...)` for whole completions (the query
rewrite; unscripted, it echoes the last user message) and `script_rerank(...)` for reranks,
including faults: an HTTP status with Retry-After, a hang past the client's timeout, a stream
that breaks after N chunks. Every request
body is kept in `requests`; a client that went away mid-stream is counted in `disconnects`.

Unscripted requests get `default`. Each streamed answer leaves a `timings` entry: the question
(the last user message), when the request arrived and when each content delta was `flushed`, on
`time.monotonic()`, which on Linux is one clock for every process, so a benchmark can set them
against its own timestamps. `GET /standin/timings` returns them as JSON.

As a process (for benchmarks, so its threads do not share a GIL with the client):

    python -m tests.support.qwen_standin --first-token-delay-s 0.3 --chunk-delay-s 0.03 --tokens 60

prints its base URL on the first line of stdout and serves until terminated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TEXT = "The documents say so [1]."


@dataclass
class Reply:
    text: str = DEFAULT_TEXT
    # How the text is cut into deltas; default: word by word.
    chunks: list[str] | None = None
    reasoning: str = ""
    prompt_tokens: int = 42
    completion_tokens: int | None = None
    status: int = 200
    retry_after: float | None = None
    hang_s: float = 0.0
    first_token_delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    break_after: int | None = None
    # A rerank's relevance score for each document, in the order they were sent (missing: 0).
    scores: list[float] | None = None
    # Only for requests to this model (None: any model).
    model: str | None = None

    def deltas(self) -> list[str]:
        if self.chunks is not None:
            return self.chunks
        words = self.text.split(" ")
        return [word if i == 0 else " " + word for i, word in enumerate(words)]

    def usage(self) -> dict[str, Any]:
        completion = self.completion_tokens
        if completion is None:
            completion = len(self.deltas())
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": 0},
        }


@dataclass
class StandIn:
    host: str = "127.0.0.1"
    port: int = 0
    queue: deque[Reply] = field(default_factory=deque)
    completions: deque[Reply] = field(default_factory=deque)
    reranks: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request
    disconnects: int = 0
    default: Reply = field(default_factory=Reply)
    # The unscripted reply per model, before `default` (how each tier answers).
    by_model: dict[str, Reply] = field(default_factory=dict)
    timings: list[dict[str, Any]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.queue.extend(replies)

    def script_completion(self, *replies: Reply) -> None:
        with self.lock:
            self.completions.extend(replies)

    def script_rerank(self, *replies: Reply) -> None:
        with self.lock:
            self.reranks.extend(replies)

    def next_reply(self, queue: deque[Reply] | None = None, model: str = "") -> Reply | None:
        """The next scripted reply of `queue` (default: streamed answers) for `model`, or the
        model's own default, or the default."""
        queue = self.queue if queue is None else queue
        with self.lock:
            for reply in queue:
                if reply.model in (None, model):
                    queue.remove(reply)
                    return reply
        if queue is not self.queue:
            return None
        return self.by_model.get(model, self.default)

    def reset(self) -> None:
        with self.lock:
            self.queue.clear()
            self.completions.clear()
            self.reranks.clear()
            self.requests.clear()
            self.headers.clear()
            self.arrivals.clear()
            self.timings.clear()
            self.by_model.clear()
            self.disconnects = 0

    def chat_requests(self) -> list[dict[str, Any]]:
        """Streamed chat requests: the answers."""
        return [body for body in self.requests if "messages" in body and body.get("stream")]

    def completion_requests(self) -> list[dict[str, Any]]:
        """Whole (unstreamed) chat requests: the query rewrites."""
        return [body for body in self.requests if "messages" in body and not body.get("stream")]

    def rerank_requests(self) -> list[dict[str, Any]]:
        return [body for body in self.requests if "input" in body and "query" in body["input"]]

    def start(self) -> StandIn:
        standin = self

        class Handler(_Handler):
            server_state = standin

        self._server = _Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs when hundreds of streams open at once (a 1 s retry).
    request_queue_size = 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: StandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/standin/timings":
            self._json(404, {"error": {"message": f"no route {self.path}", "code": "not_found"}})
            return
        with self.server_state.lock:
            timings = list(self.server_state.timings)
        self._json(200, {"timings": timings})

    def do_POST(self) -> None:
        received = time.monotonic()
        state = self.server_state
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with state.lock:
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            state.arrivals.append(received)
        path = self.path.rstrip("/")
        if path.endswith("/embeddings"):
            self._embeddings(body, state.next_reply())
        elif path.endswith("/chat/completions") and body.get("stream"):
            self._chat(body, state.next_reply(model=body.get("model", "")), received)
        elif path.endswith("/chat/completions"):
            users = [m.get("content") for m in body.get("messages", []) if m.get("role") == "user"]
            echo = Reply(text=_text_of(users[-1]) if users else "")
            self._chat(body, state.next_reply(state.completions) or echo, received)
        elif path.endswith("/text-rerank"):
            self._rerank(body, state.next_reply(state.reranks) or Reply())
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "code": "not_found"}})

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, reply: Reply) -> bool:
        if reply.hang_s:
            self.server_state.stopping.wait(reply.hang_s)
        if reply.status == 200:
            return False
        headers = {}
        if reply.retry_after is not None:
            headers["retry-after"] = str(reply.retry_after)
        codes = {401: "invalid_api_key", 429: "rate_limit_exceeded", 400: "invalid_request"}
        self._json(
            reply.status,
            {
                "error": {
                    "message": f"scripted {reply.status}",
                    "type": "scripted",
                    "code": codes.get(reply.status, "internal_error"),
                }
            },
            headers,
        )
        return True

    def _embeddings(self, body: dict[str, Any], reply: Reply) -> None:
        if self._fault(reply):
            return
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or 1024)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(text, dims)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(len(text.split()) for text in inputs)
        self._json(
            200,
            {
                "object": "list",
                "model": body.get("model"),
                "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _rerank(self, body: dict[str, Any], reply: Reply) -> None:
        if self._fault(reply):
            return
        query = set(re.findall(r"\w+", body["input"]["query"].lower()))
        documents = body["input"]["documents"]
        scores = [
            len(query & set(re.findall(r"\w+", document.lower()))) / max(len(query), 1)
            for document in documents
        ]
        if reply.scores is not None:
            scores = [reply.scores[i] if i < len(reply.scores) else 0.0 for i in range(len(scores))]
        results = sorted(
            ({"index": i, "relevance_score": score} for i, score in enumerate(scores)),
            key=lambda r: -r["relevance_score"],
        )
        top_n = (body.get("parameters") or {}).get("top_n") or len(results)
        tokens = sum(len(document.split()) for document in documents) + len(query)
        self._json(
            200,
            {
                "output": {"results": results[:top_n]},
                "usage": {"total_tokens": tokens},
                "request_id": "standin-rerank",
            },
        )

    def _chat(self, body: dict[str, Any], reply: Reply, received: float) -> None:
        if self._fault(reply):
            return
        model = body.get("model", "qwen-plus")
        if not body.get("stream"):
            self._json(
                200,
                {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": reply.text},
                        }
                    ],
                    "usage": reply.usage(),
                },
            )
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            self._stream(body, reply, model, received)
        except (BrokenPipeError, ConnectionResetError):
            with self.server_state.lock:
                self.server_state.disconnects += 1
            self.close_connection = True

    def _event(self, payload: dict[str, Any] | str) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        raw = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def _stream(self, body: dict[str, Any], reply: Reply, model: str, received: float) -> None:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        state = self.server_state
        wait = state.stopping.wait
        users = [m.get("content") for m in body.get("messages", []) if m.get("role") == "user"]
        flushed: list[float] = []
        with state.lock:
            state.timings.append(
                {"question": users[-1] if users else "", "received": received, "flushed": flushed}
            )
        self._event(chunk({"role": "assistant", "content": ""}))
        if body.get("enable_thinking") and reply.reasoning:
            for word in reply.reasoning.split(" "):
                self._event(chunk({"reasoning_content": word + " "}))
        wait(reply.first_token_delay_s)
        for sent, delta in enumerate(reply.deltas()):
            if reply.break_after is not None and sent >= reply.break_after:
                # Promise a chunk and hang up inside it: the client sees a broken transfer.
                self.wfile.write(b'400\r\ndata: {"choices"')
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._event(chunk({"content": delta}))
            flushed.append(time.monotonic())
            wait(reply.chunk_delay_s)
        self._event(chunk({}, finish="stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event(
                {
                    "id": "chatcmpl-standin",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [],
                    "usage": reply.usage(),
                }
            )
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def fake_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit vector per text, so equal texts embed equally."""
    seed = hashlib.sha256(text.encode()).digest()
    raw = [((seed[i % 32] + i * 31) % 251) / 251.0 - 0.5 for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _text_of(content: Any) -> str:
    """A message's text: a string, or the text parts of a list (an image is said, not read)."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return " ".join(
        "(an image)" if part.get("type") == "image_url" else str(part.get("text", ""))
        for part in parts
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the stand-in with one default reply.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--first-token-delay-s", type=float, default=0.0)
    parser.add_argument("--chunk-delay-s", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=0, help="deltas per answer; 0: DEFAULT_TEXT")
    parser.add_argument(
        "--reply-for",
        nargs=2,
        action="append",
        default=[],
        metavar=("MODEL", "TEXT"),
        help="how MODEL answers (e.g. qwen-plus 'The documents do not cover it.')",
    )
    args = parser.parse_args()
    default = Reply(first_token_delay_s=args.first_token_delay_s, chunk_delay_s=args.chunk_delay_s)
    if args.tokens:
        default.chunks = [f"word{i} " for i in range(args.tokens - 1)] + ["[1]."]
    # Blocked before the server's threads start, so they inherit the mask and sigwait gets them.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    by_model = {model: Reply(text=text) for model, text in args.reply_for}
    server = StandIn(host=args.host, port=args.port, default=default, by_model=by_model).start()
    print(server.base_url, flush=True)
    signal.sigwait(stop_signals)
    server.stop()


if __name__ == "__main__":
    main()
