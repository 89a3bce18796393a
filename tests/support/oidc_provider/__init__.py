"""A real OpenID provider on loopback for the tests: django-oauth-toolkit in a small Django
project of its own (settings.py), run in its own process with its own sqlite database.

    provider = Provider().start()
    provider.person("ann", groups=["staff"])        # add or change one of its people
    with provider.misbehaving("expired"): ...       # its ID tokens go wrong that way
    location = provider.authorize(url, "ann")       # sign in there; where it sends the browser
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import httpx

from assistant.lib.ports import free_port
from tests.support.oidc_provider.__main__ import CLIENT_ID, CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "provider-pw-123"


class Provider:
    client_id, client_secret = CLIENT_ID, CLIENT_SECRET

    def start(self) -> Provider:
        self.home = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.issuer = f"{self.url}/o"
        env = {
            k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "VAR_DIR"}
        }
        self.log = (self.home / "provider.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.oidc_provider", str(port)],
            cwd=ROOT,
            env=env | {"OIDC_PROVIDER_HOME": str(self.home)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
                return self
            except httpx.HTTPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        "the test OpenID provider did not start: "
                        + (self.home / "provider.log").read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """The app's settings for this provider."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
            "OIDC_PROVIDER_NAME": "Test SSO",
        }

    def person(self, username: str, *, groups=(), is_active: bool = True) -> None:
        response = httpx.post(
            f"{self.url}/people",
            json={
                "username": username,
                "password": PASSWORD,
                "groups": list(groups),
                "is_active": is_active,
            },
        )
        response.raise_for_status()

    @contextmanager
    def misbehaving(self, fault: str):
        """Its ID tokens, while in the block: wrong-audience, wrong-nonce, expired, unsigned or
        tampered (claims changed after signing)."""
        (self.home / "misbehave").write_text(fault)
        try:
            yield
        finally:
            (self.home / "misbehave").unlink()

    def authorize(self, url: str, username: str) -> str:
        """Follow an authorization request as a browser would, signing in as `username` at the
        provider's login page: the address the provider sends the browser back to."""
        with httpx.Client() as browser:
            response = browser.get(url)
            if response.status_code == 302 and "/login/" in response.headers["location"]:
                login = urljoin(url, response.headers["location"])
                browser.get(login)
                response = browser.post(
                    login,
                    data={
                        "username": username,
                        "password": PASSWORD,
                        "next": httpx.URL(login).params["next"],
                        "csrfmiddlewaretoken": browser.cookies["provider_csrftoken"],
                    },
                    headers={"Referer": login},
                )
                response = browser.get(urljoin(url, response.headers["location"]))
            assert response.status_code == 302, response.text[:500]
            return response.headers["location"]
