"""Signing in at the company's OpenID Connect provider, with authlib's Django client.

authlib (BSD-3-Clause) reads the provider's discovery document, sends the person there with
PKCE (S256), a `state` and a `nonce` kept in the session, swaps the code for tokens, and checks
the ID token against the provider's published keys (JWKS, fetched again when a key id is new):
signature and algorithm, issuer, audience, expiry and issue time within OIDC_CLOCK_SKEW_S, nonce,
and the access token's hash. A state is popped from the session when its answer arrives, so an
answer counts once. The account is then made or updated by `directory.sign_in`, keyed by the
provider's subject (`sub`), with the groups of OIDC_GROUPS_CLAIM mapped to groups here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import requests
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.django_client import DjangoOAuth2App, OAuth, OAuthError
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from joserfc.errors import JoseError

from assistant.accounts import directory

PROVIDER = "oidc"  # ExternalIdentity.provider of the people the OpenID provider vouches for
ID_TOKEN = "oidc_id_token"  # the session's copy, the id_token_hint of the sign-out


@dataclass
class SignInFailed(Exception):
    """Nobody was signed in: `code` for the audit log and metrics, `message` for the person,
    `reason` for the log line."""

    code: str
    message: str
    reason: str
    username: str = ""


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def provider_name() -> str:
    return settings.OIDC_PROVIDER_NAME or _("your company account")


def login_choices() -> dict:
    """What the login page offers: the provider's button, and whether the password form is the
    main way in or kept aside for the first admin."""
    return {
        "sign_in_with": provider_name() if enabled() else "",
        "passwords_for_everyone": settings.PASSWORD_LOGIN == "everyone" or not enabled(),
    }


@functools.cache
def _client(
    issuer: str, client_id: str, client_secret: str, scopes: str, timeout: float
) -> DjangoOAuth2App:
    oauth = OAuth()
    oauth.register(
        PROVIDER,
        client_id=client_id,
        client_secret=client_secret or None,
        server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={
            "scope": scopes,
            "code_challenge_method": "S256",
            "default_timeout": timeout,
            "token_endpoint_auth_method": "client_secret_basic" if client_secret else "none",
        },
    )
    return oauth.create_client(PROVIDER)


def client() -> DjangoOAuth2App:
    """The provider's client for the current settings; it keeps the discovery document and the
    keys it read (a cache: the keys are read again when a token names a new one)."""
    return _client(
        settings.OIDC_ISSUER,
        settings.OIDC_CLIENT_ID,
        settings.OIDC_CLIENT_SECRET,
        settings.OIDC_SCOPES,
        settings.OIDC_TIMEOUT_S,
    )


def site_url(request: HttpRequest, path: str) -> str:
    """`path` on this site as browsers reach it: OIDC_PUBLIC_URL, else the request's own host."""
    if settings.OIDC_PUBLIC_URL:
        return settings.OIDC_PUBLIC_URL + path
    return request.build_absolute_uri(path)


def _unreachable(error: Exception) -> SignInFailed:
    return SignInFailed(
        "unreachable",
        _("%(provider)s cannot be reached just now. Try again in a few minutes.")
        % {"provider": provider_name()},
        f"{type(error).__name__}: {error}",
    )


def authorization_url(request: HttpRequest, next_url: str) -> str:
    """Where to send the person to sign in; the state, nonce, PKCE verifier and `next_url` wait
    in their session for the answer."""
    app = client()
    redirect_uri = site_url(request, reverse("oidc_callback"))
    try:
        found = app.create_authorization_url(redirect_uri, ui_locales=get_language())
    except (requests.RequestException, ValueError) as error:
        raise _unreachable(error) from error
    app.save_authorize_data(request, redirect_uri=redirect_uri, next=next_url, **found)
    return found["url"]


def finish(request: HttpRequest) -> tuple[AbstractBaseUser, str, str]:
    """The provider's answer at the callback: (the account, the ID token, where to go next).
    Raises SignInFailed with what went wrong; no account is made or changed then."""
    app = client()
    state = request.GET.get("state", "")
    waiting = app.framework.get_state_data(request.session, state) or {}
    if error := request.GET.get("error"):
        app.framework.clear_state_data(request.session, state)
        raise SignInFailed(
            "provider_error",
            _("%(provider)s did not sign you in. Try again, or ask an administrator.")
            % {"provider": provider_name()},
            f"{error}: {request.GET.get('error_description', '')}",
        )
    try:
        token = app.authorize_access_token(request, leeway=settings.OIDC_CLOCK_SKEW_S)
        claims = _claims(app, token)
    except MismatchingStateError as error:
        raise SignInFailed(
            "state",
            _("This sign-in was already used or has expired. Please sign in again."),
            f"unknown or used state: {error}",
        ) from error
    except OAuthError as error:
        raise SignInFailed(
            "token_refused",
            _("%(provider)s refused to complete the sign-in. Please sign in again.")
            % {"provider": provider_name()},
            f"token endpoint: {error}",
        ) from error
    except (JoseError, ValueError) as error:
        raise _unverified(f"ID token: {type(error).__name__}: {error}") from error
    except requests.RequestException as error:
        raise _unreachable(error) from error
    username = str(claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("email") or "")
    try:
        user = directory.sign_in(
            provider=PROVIDER,
            subject=str(claims["sub"]),
            username=username,
            email=str(claims.get("email") or ""),
            first_name=str(claims.get("given_name") or ""),
            last_name=str(claims.get("family_name") or ""),
            groups=groups(claims.get(settings.OIDC_GROUPS_CLAIM)),
        )
    except directory.SignInRefused as refused:
        raise SignInFailed("deactivated", str(refused), "account deactivated", username) from None
    return user, token["id_token"], waiting.get("next", "")


def _unverified(reason: str) -> SignInFailed:
    return SignInFailed(
        "id_token_invalid",
        _(
            "The answer from %(provider)s could not be verified, so you were not signed in. "
            "Ask an administrator to check the sign-in settings."
        )
        % {"provider": provider_name()},
        reason,
    )


def _claims(app: DjangoOAuth2App, token: dict) -> dict:
    """The ID token's claims (validated by authlib), completed from the userinfo endpoint."""
    if "userinfo" not in token:  # no ID token came, or no nonce was waiting for it
        raise _unverified("no ID token in the token response")
    claims = dict(token["userinfo"])
    if app.load_server_metadata().get("userinfo_endpoint"):
        info = app.userinfo(token=token)
        if info.get("sub") != claims["sub"]:
            raise _unverified(f"userinfo is about {info.get('sub')!r}, not {claims['sub']!r}")
        claims = {**info, **claims}
    return claims


def groups(claim) -> list[str]:
    """A group claim's values: a list of names (or ids), or one name."""
    values = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
    return [value for value in values if isinstance(value, str) and value]


def logout_url(request: HttpRequest, id_token: str) -> str:
    """The provider's end-session page for this ID token, coming back to our login page; empty
    when the provider offers none (or cannot be reached: the session here is over anyway)."""
    app = client()
    try:
        if not app.load_server_metadata().get("end_session_endpoint"):
            return ""
    except (requests.RequestException, ValueError):
        return ""
    return app.create_logout_url(
        post_logout_redirect_uri=site_url(request, reverse("login")),
        id_token_hint=id_token,
        client_id=settings.OIDC_CLIENT_ID,
    )["url"]
