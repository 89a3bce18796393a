"""`python -m tests.support.oidc_provider PORT`: the test OpenID provider, its database made
afresh in OIDC_PROVIDER_HOME with one client, "assistant" (confidential, PKCE, RS256, no consent
screen), allowed back to any loopback port of the app."""

from __future__ import annotations

import os
import sys

import django
from django.core.management import call_command

CLIENT_ID, CLIENT_SECRET = "assistant", "assistant-secret"


def main(port: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.oidc_provider.settings"
    django.setup()
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    Application.objects.create(
        name="Knowledge assistant",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        # Loopback addresses match on any port (RFC 8252).
        redirect_uris="http://127.0.0.1/accounts/oidc/callback",
        post_logout_redirect_uris="http://127.0.0.1/accounts/login/",
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, verbosity=0)


if __name__ == "__main__":
    main(sys.argv[1])
