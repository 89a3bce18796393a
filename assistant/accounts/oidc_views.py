"""The "Sign in with …" button's way out to the OpenID Connect provider and back, and a sign-out
that ends the provider's session too."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, resolve_url
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from assistant.accounts import oidc
from assistant.audit import log
from assistant.lib import metrics

logger = logging.getLogger("assistant.accounts")
BACKEND = "assistant.accounts.backends.DirectoryBackend"


def _safe_next(request: HttpRequest, url: str) -> str:
    """`url` if it stays on this site, else where a sign-in lands by default."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@require_GET
def begin(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404
    try:
        url = oidc.authorization_url(request, _safe_next(request, request.GET.get("next", "")))
    except oidc.SignInFailed as failure:
        return _failed(request, failure)
    return HttpResponseRedirect(url)


@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404
    try:
        user, id_token, next_url = oidc.finish(request)
    except oidc.SignInFailed as failure:
        return _failed(request, failure)
    login(request, user, backend=BACKEND)
    request.session[oidc.ID_TOKEN] = id_token
    log.record(log.Action.LOGIN_SUCCEEDED, actor=user, changes={"provider": oidc.PROVIDER})
    metrics.OIDC_SIGN_INS.labels("succeeded").inc()
    return redirect(_safe_next(request, next_url))


def _failed(request: HttpRequest, failure: oidc.SignInFailed) -> TemplateResponse:
    """The login page with what went wrong, in the person's language; the log says why."""
    logger.warning("OpenID Connect sign-in failed (%s): %s", failure.code, failure.reason)
    log.record(
        log.Action.LOGIN_FAILED,
        actor_name=failure.username,
        changes={"provider": oidc.PROVIDER, "reason": failure.code},
    )
    metrics.OIDC_SIGN_INS.labels(failure.code).inc()
    context = {
        "form": AuthenticationForm(request),
        "sign_in_error": failure.message,
        **oidc.login_choices(),
    }
    status = 403 if failure.code == "deactivated" else 400
    return TemplateResponse(request, "registration/login.html", context, status=status)


class LogoutView(auth_views.LogoutView):
    """Signing out here also signs out at the provider where it offers that (RP-initiated
    logout), so the next "Sign in with …" asks for the company password again."""

    def post(self, request, *args, **kwargs):
        id_token = request.session.get(oidc.ID_TOKEN)
        response = super().post(request, *args, **kwargs)
        if id_token and oidc.enabled() and (url := oidc.logout_url(request, id_token)):
            return HttpResponseRedirect(url)
        return response
