"""Logging in (rate-limited per account and per address) and the user's own settings page."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from assistant.accounts import quotas, throttle, tokens


def _keys(request: HttpRequest) -> list[tuple[str, int]]:
    username = request.POST.get("username", "").strip().lower()[:150]
    address = request.META.get("REMOTE_ADDR", "unknown")
    return [
        (f"login:account:{username}", settings.LOGIN_ATTEMPTS_PER_ACCOUNT),
        (f"login:address:{address}", settings.LOGIN_ATTEMPTS_PER_ADDRESS),
    ]


class LoginView(auth_views.LoginView):
    """Django's login, refusing further tries for a while after too many wrong passwords."""

    def post(self, request, *args, **kwargs):
        window = settings.LOGIN_WINDOW_S
        wait = max(throttle.blocked_for(key, limit, window) for key, limit in _keys(request))
        if wait:
            form = self.get_form()
            minutes = -(-wait // 60)
            form.errors.clear()
            form.add_error(
                None,
                f"Too many failed attempts. Try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}, or ask an administrator to reset your password.",
            )
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key, _ in _keys(self.request):
            throttle.hit(key, settings.LOGIN_WINDOW_S)
        return super().form_invalid(form)

    def form_valid(self, form):
        throttle.clear(_keys(self.request)[0][0])
        return super().form_valid(form)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True, required=False)


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
    _, token = tokens.create(request.user, form.cleaned_data["name"])
    response = account(request, new_token=token)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    tokens.revoke(request.user, token_id)
    return redirect("account")
