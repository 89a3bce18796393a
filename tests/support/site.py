"""A small website on loopback for the sources tests and benchmark: pages that can change,
vanish and appear between syncs, ETags honoured (If-None-Match answers 304), redirects, and a
log of every request with its conditional headers."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str = ""  # for a redirect
    etag: bool = True  # send an ETag (and honour If-None-Match)


@dataclass
class Request:
    path: str
    if_none_match: str
    user_agent: str


@dataclass
class Site:
    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # A path whose request waits for `release` (a crash test kills the crawler meanwhile).
    hold: str = ""
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Site:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                match = self.headers.get("If-None-Match", "")
                site.requests.append(Request(self.path, match, self.headers.get("User-Agent", "")))
                if site.hold and self.path == site.hold:
                    site.held.set()
                    site.release.wait(timeout=120)
                page = site.pages.get(self.path)
                if page is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if page.location:
                    self.send_response(page.status or 301)
                    self.send_header("Location", page.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                tag = '"' + hashlib.sha256(page.body).hexdigest()[:16] + '"'
                if page.etag and match == tag:
                    self.send_response(304)
                    self.send_header("ETag", tag)
                    self.end_headers()
                    return
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                if page.etag:
                    self.send_header("ETag", tag)
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def html(self, path: str, title: str, text: str, links: list[str] = ()) -> None:
        anchors = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
        self.pages[path] = Page(
            f"<!doctype html><html><head><title>{title}</title></head><body>"
            f"<nav><ul>{anchors}</ul></nav><main><h1>{title}</h1><p>{text}</p></main>"
            "<footer>Copyright Example Docs</footer></body></html>".encode()
        )

    def paths_requested(self) -> list[str]:
        return [r.path for r in self.requests]
