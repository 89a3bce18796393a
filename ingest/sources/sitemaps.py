"""Sitemaps: the page URLs of a sitemap or a sitemap index (nested, gzipped or not, XML or
plain text), read through the guarded fetcher so every request obeys the same rules.

Written here rather than taken from a library because every fetch must go through
`fetching.fetch` (address checks on each redirect, byte and time bounds), and the format is
small: <urlset>/<url>/<loc>, <sitemapindex>/<sitemap>/<loc>, or one URL a line.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.etree import ElementTree

from ingest.sources.fetching import FetchError, Response

MAX_NESTING = 3
MAX_SITEMAPS = 200


@dataclass
class SitemapPages:
    urls: list[str] = field(default_factory=list)
    # Every sitemap was read: a page absent from it is really gone.
    complete: bool = True
    problems: list[str] = field(default_factory=list)


def read_sitemap(url: str, get: Callable[[str], Response], *, max_urls: int, max_bytes: int):
    """The pages listed by the sitemap at `url`, in order, at most `max_urls`."""
    found = SitemapPages()
    seen_sitemaps: set[str] = set()

    def visit(sitemap_url: str, nesting: int) -> None:
        if sitemap_url in seen_sitemaps or len(seen_sitemaps) >= MAX_SITEMAPS:
            return
        seen_sitemaps.add(sitemap_url)
        try:
            response = get(sitemap_url)
            if response.status != 200:
                raise FetchError(f"answered {response.status}")
            kind, locations = parse_sitemap(_gunzipped(response.body, max_bytes))
        except (FetchError, ValueError) as error:
            found.complete = False
            found.problems.append(f"sitemap {sitemap_url}: {error}")
            return
        if kind == "index":
            if nesting >= MAX_NESTING:
                found.complete = False
                found.problems.append(f"sitemap {sitemap_url}: nested too deep")
                return
            for child in locations:
                visit(child, nesting + 1)
            return
        for location in locations:
            if len(found.urls) >= max_urls:
                found.complete = False
                return
            found.urls.append(location)

    visit(url, 0)
    return found


def parse_sitemap(data: bytes) -> tuple[str, list[str]]:
    """("index", sitemap URLs) or ("urlset", page URLs). Raises ValueError when unreadable."""
    head = data.lstrip()[:5].lower()
    if not head.startswith(b"<"):  # a text sitemap: one URL a line
        lines = data.decode("utf-8", errors="replace").splitlines()
        return "urlset", [line.strip() for line in lines if line.strip().startswith("http")]
    if b"<!doctype" in data[:2048].lower() or b"<!entity" in data.lower():
        raise ValueError("a sitemap may not declare a DTD or entities")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise ValueError(f"not valid XML ({error})") from None
    kind = "index" if _local(root.tag) == "sitemapindex" else "urlset"
    locations = [
        (element.text or "").strip()
        for element in root.iter()
        if _local(element.tag) == "loc" and (element.text or "").strip()
    ]
    return kind, locations


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _gunzipped(data: bytes, max_bytes: int) -> bytes:
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflate.decompress(data, max_bytes + 1)
    except zlib.error as error:
        raise ValueError(f"a damaged gzip file ({error})") from None
    if len(out) > max_bytes:
        raise ValueError(f"expands to more than {max_bytes // 2**20} MB")
    return out
