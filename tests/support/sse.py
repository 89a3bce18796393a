"""A small SSE client for tests: talks to the live ASGI server like a browser's EventSource."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from django.test import Client


@dataclass
class SseEvent:
    name: str
    data: str


def session_cookies(user) -> dict[str, str]:
    """Log `user` in through Django's session store; the live server reads the same database."""
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


def read_events(response: httpx.Response):
    name, data = "message", []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if data:
                yield SseEvent(name, "\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def stream_all(url: str, cookies: dict[str, str], timeout: float = 30) -> list[SseEvent]:
    with httpx.stream("GET", url, cookies=cookies, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_events(response))
