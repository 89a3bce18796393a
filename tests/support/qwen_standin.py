"""A scripted stand-in for Qwen's OpenAI-compatible endpoint: a real HTTP server on loopback.

It speaks `/v1/chat/completions` (streamed as SSE over chunked encoding, or whole), with
`stream_options.include_usage` and `reasoning_content` deltas when `enable_thinking` is on, and
`/v1/embeddings` with deterministic vectors. Tests queue replies with `script(...)`, including
faults: an HTTP status with Retry-After, a hang past the client's timeout, a stream that breaks
after N chunks. Every request body is kept in `requests`; a client that went away mid-stream is
counted in `disconnects`.
"""

from __future__ import annotations

import hashlib
import json
import math
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
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    disconnects: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.queue.extend(replies)

    def next_reply(self) -> Reply:
        with self.lock:
            return self.queue.popleft() if self.queue else Reply()

    def reset(self) -> None:
        with self.lock:
            self.queue.clear()
            self.requests.clear()
            self.headers.clear()
            self.disconnects = 0

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body for body in self.requests if "messages" in body]

    def start(self) -> StandIn:
        standin = self

        class Handler(_Handler):
            server_state = standin

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: StandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        state = self.server_state
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with state.lock:
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
        if self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(body, state.next_reply())
        elif self.path.rstrip("/").endswith("/chat/completions"):
            self._chat(body, state.next_reply())
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

    def _chat(self, body: dict[str, Any], reply: Reply) -> None:
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
            self._stream(body, reply, model)
        except (BrokenPipeError, ConnectionResetError):
            with self.server_state.lock:
                self.server_state.disconnects += 1
            self.close_connection = True

    def _event(self, payload: dict[str, Any] | str) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        raw = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def _stream(self, body: dict[str, Any], reply: Reply, model: str) -> None:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        wait = self.server_state.stopping.wait
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
