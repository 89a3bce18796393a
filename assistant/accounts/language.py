"""The language a person chose on their account, over the one the browser asks for."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.db import OperationalError
from django.utils import translation
from django.utils.decorators import sync_and_async_middleware

from assistant.accounts.models import UserLanguage


@sync_and_async_middleware
def account_language(get_response):
    """After LocaleMiddleware (cookie, Accept-Language, LANGUAGE_CODE) and authentication: a
    logged-in person's saved choice wins. The API is left to Accept-Language: a bot calling with
    its owner's token should not change language when its owner clicks the switcher."""

    if iscoroutinefunction(get_response):

        async def middleware(request):
            if _applies(request):
                _activate(request, await sync_to_async(_chosen)(request))
            return await get_response(request)

    else:

        def middleware(request):
            if _applies(request):
                _activate(request, _chosen(request))
            return get_response(request)

    return middleware


def _applies(request) -> bool:
    return not request.path.startswith("/api/")


def _chosen(request) -> str | None:
    try:
        user = request.user
        return UserLanguage.of(user.pk) if user.is_authenticated else None
    except OperationalError:
        return None  # the database is down: the view says so (503) in the browser's language


def _activate(request, language: str | None) -> None:
    if language and language != request.LANGUAGE_CODE:
        translation.activate(language)
        request.LANGUAGE_CODE = language


def save_choice(user, language: str) -> None:
    if language in dict(settings.LANGUAGES):
        UserLanguage.objects.update_or_create(user=user, defaults={"language": language})


def for_user(user_id: int) -> str:
    """The language to write in for someone who may not be the one asking (an answer the sweeper
    closes): their saved choice, else the active language (the site's, in a worker)."""
    return UserLanguage.of(user_id) or translation.get_language()
