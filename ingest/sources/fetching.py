"""HTTP for the crawler, bounded and guarded: the address connected to is the one checked.

Each request resolves the host itself, refuses private, loopback, link-local, shared (CGNAT,
where cloud metadata services live) and other non-global addresses unless the host is listed in
SOURCES_ALLOWED_PRIVATE_HOSTS, then connects to that very address (no second lookup a DNS
rebinding could answer differently). Redirects are followed one hop at a time, each hop checked
the same way. Responses are bounded in bytes and in wall-clock time.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 10


class FetchError(Exception):
    """A request that got no usable answer; the message says why (shown to the admin)."""


@dataclass(frozen=True)
class Policy:
    user_agent: str
    timeout_s: float
    max_bytes: int
    allowed_private_hosts: frozenset[str] = frozenset()


@dataclass
class Response:
    url: str  # where the answer came from, after redirects
    status: int
    headers: dict[str, str]
    body: bytes = b""
    redirects: list[str] = field(default_factory=list)  # the URLs that led to `url`

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def fetch(
    url: str,
    *,
    policy: Policy,
    validators=lambda url: ("", ""),
) -> Response:
    """GET `url`, following redirects. `validators(url)` gives the ETag and Last-Modified saved
    for a URL, sent as a conditional request (a 304 comes back with an empty body)."""
    redirects: list[str] = []
    deadline = time.monotonic() + policy.timeout_s
    while True:
        etag, last_modified = validators(url)
        response = _get_once(
            url, policy=policy, deadline=deadline, etag=etag, last_modified=last_modified
        )
        if response.status not in REDIRECTS or "location" not in response.headers:
            response.redirects = redirects
            return response
        target = urljoin(url, response.headers["location"]).split("#")[0]
        redirects.append(url)
        if target in redirects or target == url:
            raise FetchError(f"redirect loop at {target}")
        if len(redirects) > MAX_REDIRECTS:
            raise FetchError(f"more than {MAX_REDIRECTS} redirects")
        url = target


def check_address(host: str, port: int, *, policy: Policy) -> str:
    """The address to connect to for `host`, after refusing every non-global one the host is
    not allowed to have."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise FetchError(f"the host {host} could not be resolved ({error.strerror})") from None
    if host.lower().strip("[]") in policy.allowed_private_hosts:
        return infos[0][4][0]
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise FetchError(
                f"{host} resolves to {address}, a private or reserved address; a source reaches "
                "it only if the host is listed in SOURCES_ALLOWED_PRIVATE_HOSTS"
            )
    return infos[0][4][0]


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("timed out")
    return left


def _get_once(
    url: str, *, policy: Policy, deadline: float, etag: str, last_modified: str
) -> Response:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = check_address(parts.hostname, port, policy=policy)
    # The Host header names the port only when it is not the scheme's own.
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=policy.timeout_s)
    try:
        sock = socket.create_connection((address, port), timeout=_remaining(deadline))
        if parts.scheme == "https":
            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        connection.sock = sock  # connected to the address checked, never looked up again
        headers = {
            "User-Agent": policy.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/pdf,text/*;q=0.9,*/*;q=0.5",
            "Accept-Encoding": "identity",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        path = parts.path or "/"
        connection.request("GET", f"{path}?{parts.query}" if parts.query else path, headers=headers)
        sock.settimeout(_remaining(deadline))
        answer = connection.getresponse()
        received = {name.lower(): value for name, value in answer.getheaders()}
        body = b""
        if answer.status == 200:
            body = _read_bounded(answer, received, policy=policy, deadline=deadline, sock=sock)
        return Response(url=url, status=answer.status, headers=received, body=body)
    except ssl.SSLError as error:
        raise FetchError(f"TLS error: {error.reason or error}") from None
    except TimeoutError:
        raise FetchError("timed out") from None
    except (http.client.HTTPException, OSError) as error:
        raise FetchError(f"connection failed: {error}") from None
    finally:
        connection.close()


def _read_bounded(answer, headers: dict[str, str], *, policy: Policy, deadline, sock) -> bytes:
    limit_mb = policy.max_bytes / 2**20
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(f"larger than the {limit_mb:g} MB limit per page ({declared} bytes)")
    parts, size = [], 0
    while True:
        sock.settimeout(_remaining(deadline))
        part = answer.read1(65536) if hasattr(answer, "read1") else answer.read(65536)
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > policy.max_bytes:
            raise FetchError(f"larger than the {limit_mb:g} MB limit per page")
        parts.append(part)
