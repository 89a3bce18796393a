"""What can go wrong with a model call, sorted by what to do about it: retry, or not."""

from __future__ import annotations

from typing import Any

import openai
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class ProviderError(Exception):
    """A provider call that failed; `user_message` is safe to show, the rest goes to logs."""

    retryable = False
    user_message = gettext_lazy("The assistant could not answer right now. Please try again.")

    def __init__(self, detail: str, *, status: int | None = None):
        super().__init__(detail)
        self.status = status


class ProviderBusy(ProviderError):
    """429: rate limited. Retry after `retry_after` seconds when the server says so."""

    retryable = True

    def __init__(self, detail: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after

    @property
    def user_message(self) -> str:  # type: ignore[override]
        if self.retry_after:
            return _("The assistant is busy, try again in %(seconds)d s.") % {
                "seconds": round(self.retry_after)
            }
        return _("The assistant is busy, try again in a moment.")


class ProviderUnavailable(ProviderError):
    """5xx, a timeout, or a refused connection: worth another try."""

    retryable = True
    user_message = gettext_lazy("The answer service is not responding. Please try again shortly.")


class BudgetSpent(ProviderUnavailable):
    """No first token within LLM_FIRST_TOKEN_BUDGET_S, whatever was tried: stop trying."""

    retryable = False
    user_message = gettext_lazy("The answer service did not start answering in time.")


class ProviderRejected(ProviderError):
    """400/401/403 and content refusals: retrying cannot help."""

    user_message = gettext_lazy(
        "The answer service refused the request. An administrator has been told."
    )


class StreamBroken(ProviderError):
    """The stream failed after text reached the user: never retried, the partial text is kept."""

    user_message = gettext_lazy("The answer was cut off by the answer service. Please ask again.")


def _retry_after(response: Any) -> float | None:
    if response is None:
        return None
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def classify(error: Exception, *, relayed: bool = False) -> ProviderError:
    """Map SDK and transport errors to ours. Anything after the first token is a broken stream."""
    status = getattr(error, "status_code", None)
    detail = f"{type(error).__name__}: {error}"
    if relayed:
        return StreamBroken(detail, status=status)
    if isinstance(error, openai.RateLimitError):
        return ProviderBusy(detail, status=status, retry_after=_retry_after(error.response))
    if isinstance(error, openai.APIStatusError):
        if status is not None and status >= 500:
            return ProviderUnavailable(detail, status=status)
        return ProviderRejected(detail, status=status)
    return ProviderUnavailable(detail, status=status)
