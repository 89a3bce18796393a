"""A website source: its sitemap and start pages, then the links it allows, politely.

The crawl stays within the allowed hosts and path prefixes, honours robots.txt for our own user
agent (and its Crawl-delay), waits the source's delay between two requests to a host, and
stops at the page and depth limits. A page's links are kept with it, so a page that answers 304
(or fails this time) still leads the crawl where it led before.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit, urlunsplit

from django.conf import settings
from django.utils.translation import gettext as _
from protego import Protego
from selectolax.lexbor import LexborHTMLParser

from ingest.formats import CSV, DOCX, HTML, IMAGES, MARKDOWN, PDF, PPTX, TEXT, XLSX
from ingest.models import Source
from ingest.parsers import not_a_document
from ingest.sources.fetching import FetchError, Policy, Response, fetch
from ingest.sources.recording import Run
from ingest.sources.sitemaps import read_sitemap

READABLE = {HTML, "application/xhtml+xml", PDF, DOCX, PPTX, XLSX, CSV, MARKDOWN, TEXT, *IMAGES}
# No type, or a generic one: the bytes decide (ingest.parsers.sniff).
SNIFFED = {"", "application/octet-stream", "binary/octet-stream"}
MAX_CRAWL_DELAY_S = 60.0


def canonical(url: str) -> str:
    """The URL a page is known by: http(s) only, host lower-cased, no default port and no
    fragment; empty for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return ""
    scheme = parts.scheme.lower()
    netloc = parts.hostname.lower()
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port and port != {"http": 80, "https": 443}[scheme]:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


@dataclass(frozen=True)
class Scope:
    hosts: frozenset[str]
    prefixes: tuple[str, ...]

    @classmethod
    def of(cls, source: Source) -> Scope:
        entries = [canonical(u) for u in [*source.start_urls, source.sitemap_url] if u]
        hosts = source.allowed_hosts or [urlsplit(u).netloc for u in entries if u]
        prefixes = source.path_prefixes or [
            urlsplit(u).path.rsplit("/", 1)[0] + "/" for u in entries if u
        ]
        return cls(frozenset(h.lower() for h in hosts), tuple(prefixes or ["/"]))

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        host_ok = parts.netloc in self.hosts or (parts.hostname or "") in self.hosts
        return host_ok and any(parts.path.startswith(prefix) for prefix in self.prefixes)


class Client:
    """Requests to a site, each host's robots.txt read once and obeyed, one request per host
    per delay."""

    def __init__(self, source: Source, policy: Policy) -> None:
        self.policy = policy
        self.delay_s = source.delay_s
        self.robots: dict[str, Protego | None] = {}
        self.unreachable: dict[str, str] = {}  # origin -> why its robots.txt was not read
        self.last_request: dict[str, float] = {}

    def get(self, url: str, validators=lambda url: ("", "")) -> Response:
        self._wait_turn(url)
        try:
            return fetch(url, policy=self.policy, validators=validators)
        finally:
            self.last_request[urlsplit(url).netloc] = time.monotonic()

    def allows(self, url: str) -> bool:
        """robots.txt's word for our user agent; a robots.txt that cannot be read (5xx, no
        answer) forbids everything this time (RFC 9309), and the crawl is then incomplete."""
        rules = self._rules(url)
        return rules is None or rules.can_fetch(url, self.policy.user_agent)

    def _rules(self, url: str) -> Protego | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.robots:
            try:
                response = self.get(f"{origin}/robots.txt")
                problem = "" if response.status < 500 else f"answered {response.status}"
            except FetchError as error:
                response, problem = None, str(error)
            if response is None or response.status >= 500:
                self.unreachable[origin] = problem
                self.robots[origin] = Protego.parse("User-agent: *\nDisallow: /")
            elif response.status == 200:
                self.robots[origin] = Protego.parse(response.body.decode("utf-8", "replace"))
            else:  # 4xx: no robots.txt, no rules
                self.robots[origin] = None
        return self.robots[origin]

    def _wait_turn(self, url: str) -> None:
        host = urlsplit(url).netloc
        delay = self.delay_s
        rules = self.robots.get(f"{urlsplit(url).scheme}://{host}")
        if rules is not None and (asked := rules.crawl_delay(self.policy.user_agent)):
            delay = max(delay, min(float(asked), MAX_CRAWL_DELAY_S))
        if host in self.last_request:
            time.sleep(max(0.0, self.last_request[host] + delay - time.monotonic()))


def page_links(body: bytes, url: str) -> tuple[list[str], bool, bool]:
    """The links of an HTML page (absolute, canonical), and whether its robots meta tag lets us
    follow them and index the page."""
    tree = LexborHTMLParser(body.decode("utf-8", "replace"))
    base = url
    if (tag := tree.css_first("base[href]")) is not None:
        base = urljoin(url, tag.attributes.get("href") or "")
    directives = ""
    for meta in tree.css("meta[name]"):
        if (meta.attributes.get("name") or "").lower() in {"robots", "qwenassistantbot"}:
            directives += (meta.attributes.get("content") or "").lower()
    links = []
    for anchor in tree.css("a[href]"):
        href = anchor.attributes.get("href") or ""
        if "nofollow" in (anchor.attributes.get("rel") or ""):
            continue
        if link := canonical(urljoin(base, href)):
            links.append(link)
    return list(dict.fromkeys(links)), "nofollow" not in directives, "noindex" not in directives


def source_path_for(url: str, media_type: str) -> str:
    """The document's path: host and path, with `.html` for a page whose name does not say so
    (the parser goes by the bytes, helped by the name)."""
    parts = urlsplit(url)
    path = parts.path if not parts.path.endswith("/") else parts.path + "index.html"
    if parts.query:
        path = f"{path}?{parts.query}"
    is_page = media_type in {HTML, "application/xhtml+xml"}
    if is_page and PurePosixPath(parts.path).suffix.lower() not in {".html", ".htm"}:
        path += ".html"
    return f"{parts.netloc}{path}"


def crawl(run: Run) -> bool:
    """Read the site; True when it was read whole (so what it lacks may be removed)."""
    source = run.source
    policy = Policy(
        user_agent=settings.SOURCES_USER_AGENT,
        timeout_s=settings.SOURCES_TIMEOUT_S,
        max_bytes=source.max_page_mb * 2**20,
        allowed_private_hosts=frozenset(h.lower() for h in settings.SOURCES_ALLOWED_PRIVATE_HOSTS),
    )
    client = Client(source, policy)
    scope = Scope.of(source)
    complete = True
    frontier: deque[tuple[str, int]] = deque()
    queued: set[str] = set()

    def enqueue(url: str, depth: int) -> None:
        url = canonical(url)
        if not url or url in queued or depth > source.max_depth or not scope.allows(url):
            return
        if not_a_document(urlsplit(url).path):
            return  # a stylesheet, a script, a font: never fetched
        queued.add(url)
        frontier.append((url, depth))

    for url in source.start_urls:
        enqueue(url, 0)
    if source.sitemap_url:
        listed = read_sitemap(
            canonical(source.sitemap_url) or source.sitemap_url,
            client.get,
            max_urls=max(source.max_pages * 10, 1000),
            max_bytes=policy.max_bytes,
        )
        complete &= listed.complete
        for problem in listed.problems:
            run.note(problem)
        for url in listed.urls:
            enqueue(url, 0)

    fetched = 0
    while frontier:
        if fetched >= source.max_pages:
            complete = False  # the rest was not read: nothing is removed for want of it
            break
        url, depth = frontier.popleft()
        if not client.allows(url):
            origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
            if origin in client.unreachable:
                complete = False
                run.failed(
                    run.item(url),
                    _(
                        "%(origin)s/robots.txt could not be read (%(reason)s), so nothing there "
                        "was fetched"
                    )
                    % {"origin": origin, "reason": client.unreachable[origin]},
                )
            continue
        fetched += 1
        run.count("seen")
        item = run.item(url)
        links: list[str] = []
        follow = True
        try:
            response = client.get(url, validators=run.validators)
        except FetchError as error:
            run.failed(item, str(error), depth=depth)
            links = item.links  # the pages it led to before are not lost for one failure
        else:
            links, follow = _outcome(run, item, response, depth=depth, scope=scope)
            for hop in response.redirects:
                queued.add(canonical(hop))
            queued.add(canonical(response.url))
        if follow:
            for link in links:
                enqueue(link, depth + 1)
        run.keep_alive()
    return complete


def _outcome(run: Run, item, response: Response, *, depth: int, scope: Scope):
    """Record one answer; the links to follow from it."""
    final = canonical(response.url)
    if response.redirects and final != item.key:
        if not scope.allows(final):
            run.failed(
                item,
                _("redirected outside the allowed hosts and paths, to %(url)s") % {"url": final},
            )
            return [], False
        # The page lives at its final URL: it is recorded there, with the URLs that led to it.
        redirected = item
        item = run.item(final)
        if run.seen_now(item):
            _forget(run, redirected, final)
            return [], False
    fields = {"depth": depth, "http_status": response.status, "redirects": response.redirects}
    status = response.status
    if status == 304:
        run.unchanged(item, **fields)
        links = item.links
    elif status in {404, 410}:
        run.gone(item, _("the page answered %(status)s") % {"status": status})
        links = []
    elif status == 200:
        links = _page(run, item, response, fields)
    else:
        run.failed(item, _("the server answered %(status)s") % {"status": status}, **fields)
        links = item.links
    if response.redirects and final != response.redirects[0]:
        _forget(run, run.items.get(canonical(response.redirects[0])), final)
    return links, True


def _forget(run: Run, redirected, final: str) -> None:
    """A URL that now redirects: its page is known by the final URL from now on."""
    if (
        redirected is not None
        and redirected.pk
        and redirected.key != final
        and redirected.state != "removed"
    ):
        run.remove(redirected, _("it now redirects to %(url)s") % {"url": final})


def _page(run: Run, item, response: Response, fields: dict) -> list[str]:
    media_type = response.media_type
    etag = response.headers.get("etag", "")[:500]
    last_modified = response.headers.get("last-modified", "")[:100]
    fields |= {"etag": etag, "last_modified": last_modified}
    if media_type not in READABLE and media_type not in SNIFFED:
        run.skipped(item, _("%(type)s is not a format we read") % {"type": media_type}, **fields)
        return []
    links, follow, index = [], True, True
    if media_type in {HTML, "application/xhtml+xml"}:
        links, follow, index = page_links(response.body, response.url)
    fields["links"] = links
    if not index:
        run.skipped(item, _("the page asks not to be indexed (noindex)"), **fields)
    else:
        run.store(
            item,
            response.body,
            source_path=source_path_for(canonical(response.url), media_type),
            **fields,
        )
    return links if follow else []
