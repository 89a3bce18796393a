"""Logging in (rate-limited per account and per address) and the user's own settings page."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import i18n
from django.views.decorators.http import require_POST

from assistant.accounts import language, oidc, quotas, throttle, tokens
from assistant.audit import log
from assistant.lib import metrics


def _keys(request: HttpRequest) -> list[tuple[str, int]]:
    """What a wrong password counts against: this account from this address (so nobody can lock
    someone else out from elsewhere) and this address whatever the account."""
    username = request.POST.get("username", "")
    address = request.META.get("REMOTE_ADDR", "unknown")
    return [
        (throttle.account_key(username, address), settings.LOGIN_ATTEMPTS_PER_ACCOUNT),
        _address_key(request),
    ]


def _address_key(request: HttpRequest) -> tuple[str, int]:
    address = request.META.get("REMOTE_ADDR", "unknown")
    return f"login:address:{address}", settings.LOGIN_ATTEMPTS_PER_ADDRESS


def _too_many(wait: int) -> str:
    minutes = -(-wait // 60)
    return ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute, or ask an administrator to "
        "reset your password.",
        "Too many failed attempts. Try again in %(minutes)d minutes, or ask an administrator to "
        "reset your password.",
        minutes,
    ) % {"minutes": minutes}


def _refusal(request: HttpRequest) -> int:
    """Seconds until this request's account and address may try a password again (0: now)."""
    window = settings.LOGIN_WINDOW_S
    return max(throttle.blocked_for(key, limit, window) for key, limit in _keys(request))


class ThrottledLogin:
    """A login view refusing further tries for a while after too many wrong passwords. The site's
    login, the admin's and the password reset form share the counters."""

    def post(self, request, *args, **kwargs):
        if wait := _refusal(request):
            return _refused(self, wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if form.has_error(NON_FIELD_ERRORS, "directory_unreachable"):
            return super().form_invalid(form)  # no password was judged (assistant/accounts/ldap.py)
        username = self.request.POST.get("username", "")
        log.record(log.Action.LOGIN_FAILED, actor_name=username)
        metrics.LOGIN_FAILURES.inc()
        for key, limit in _keys(self.request):
            if throttle.hit(key, settings.LOGIN_WINDOW_S) == limit:  # this failure locks
                log.record(log.Action.LOGIN_LOCKED, actor_name=username, changes={"key": key})
                metrics.LOGIN_LOCKOUTS.inc()
        return super().form_invalid(form)

    def form_valid(self, form):
        throttle.clear(_keys(self.request)[0][0])
        log.record(log.Action.LOGIN_SUCCEEDED, actor=form.get_user())
        return super().form_valid(form)


def _refused(view, wait: int, *, field: str | None = None) -> HttpResponse:
    form = view.get_form()
    form.errors.clear()
    form.add_error(field, _too_many(wait))
    response = view.render_to_response(view.get_context_data(form=form), status=429)
    response["Retry-After"] = str(wait)
    return response


class LoginView(ThrottledLogin, auth_views.LoginView):
    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | oidc.login_choices()


class PasswordChangeView(auth_views.PasswordChangeView):
    """A wrong old password counts against the account like a wrong password at login: the
    form cannot be used to guess a signed-in session's password."""

    def post(self, request, *args, **kwargs):
        key = throttle.password_change_key(request.user)
        limit = settings.LOGIN_ATTEMPTS_PER_ACCOUNT
        if wait := throttle.blocked_for(key, limit, settings.LOGIN_WINDOW_S):
            # On the field: the admin's password change page shows no form-wide errors.
            return _refused(self, wait, field="old_password")
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if "old_password" in form.errors:
            throttle.hit(throttle.password_change_key(self.request.user), settings.LOGIN_WINDOW_S)
        return super().form_invalid(form)


class AdminLoginView(ThrottledLogin, auth_views.LoginView):
    """The admin's own login page and form, behind the same throttle."""

    template_name = "admin/login.html"
    authentication_form = AdminAuthenticationForm
    next_page = "admin:index"

    def get_context_data(self, **kwargs):
        return {
            **admin.site.each_context(self.request),
            "title": _("Log in"),
            **super().get_context_data(**kwargs),
            **oidc.login_choices(),
        }


class PasswordResetView(auth_views.PasswordResetView):
    """Asking for a reset link counts against the address like a wrong password: the form
    cannot be used to probe or flood at will."""

    def post(self, request, *args, **kwargs):
        key, limit = _address_key(request)
        if wait := throttle.blocked_for(key, limit, settings.LOGIN_WINDOW_S):
            response = HttpResponse(
                _("Too many attempts from your address; try again later."),
                status=429,
                content_type="text/plain",
            )
            response["Retry-After"] = str(wait)
            return response
        throttle.hit(key, settings.LOGIN_WINDOW_S)
        return super().post(request, *args, **kwargs)


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Token name"), max_length=100, strip=True, required=False
    )


@login_required
def account(
    request: HttpRequest, new_token: str | None = None, form: TokenForm | None = None
) -> TemplateResponse:
    """Your quota and your API tokens."""
    context = {
        "remaining": quotas.remaining(request.user),
        "tokens": request.user.api_tokens.all(),
        "new_token": new_token,
        "form": form or TokenForm(),
    }
    return TemplateResponse(request, "accounts/account.html", context)


@login_required
@require_POST
def create_token(request: HttpRequest) -> HttpResponse:
    """Answers with the page itself, the token in it: it is shown this once and stored hashed."""
    form = TokenForm(request.POST)
    if not form.is_valid():  # too long, or a NUL: say so, create nothing
        response = account(request, form=form)
        response.status_code = 400
        return response
    _token, token = tokens.create(request.user, form.cleaned_data["name"])
    response = account(request, new_token=token)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    tokens.revoke(request.user, token_id)
    return redirect("account")


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The header's switcher: Django's own view sets the cookie and goes back; a logged-in
    person's choice is also saved on their account, so it follows them to any browser."""
    form = LanguageForm(request.POST)
    if form.is_valid() and request.user.is_authenticated:
        language.save_choice(request.user, form.cleaned_data["language"])
    return i18n.set_language(request)
