"""The usage dashboard for admins and staff: questions, tokens, cost, speed, errors, gaps."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import chain

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Aggregate, Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.http import HttpRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from assistant.models import Feedback, LlmCall, Message
from ingest.models import Collection

PERMISSION = "assistant.view_llmcall"


class Percentile(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=fraction, **extra)


class FilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    collection = forms.ModelChoiceField(
        queryset=Collection.objects.all(), required=False, empty_label="All collections"
    )

    def period(self) -> tuple[date, date, Collection | None]:
        today = timezone.localdate()
        data = self.cleaned_data if self.is_valid() else {}
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=29)
        return min(start, end), max(start, end), data.get("collection")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float
    text: str


def bars(series: list[tuple[str, float]], *, fmt: str = "{:,.0f}", height: float = 120) -> dict:
    """Geometry for a small SVG bar chart (see templates/assistant/_bars.html)."""
    width = max(len(series), 1) * 28
    top = max((value for _, value in series), default=0) or 1
    shapes = []
    for i, (label, value) in enumerate(series):
        h = value / top * (height - 20)
        shapes.append(
            Bar(label, value, i * 28 + 4, height - h, 20, h, fmt.format(value) if value else "")
        )
    return {"bars": shapes, "width": width, "height": height + 16, "max": fmt.format(top)}


def _messages(start: date, end: date, collection: Collection | None) -> QuerySet[Message]:
    answers = Message.objects.filter(
        role=Message.Role.ASSISTANT, created_at__date__gte=start, created_at__date__lte=end
    )
    if collection is not None:
        answers = answers.filter(
            Q(conversation__collections=collection) | Q(citations__document__collection=collection)
        ).distinct()
    return answers


def _calls(start: date, end: date, collection: Collection | None) -> QuerySet[LlmCall]:
    calls = LlmCall.objects.filter(created_at__date__gte=start, created_at__date__lte=end)
    if collection is not None:
        calls = calls.filter(message__in=_messages(start, end, collection))
    return calls


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def summary(start: date, end: date, collection: Collection | None) -> dict:
    answers = _messages(start, end, collection)
    calls = _calls(start, end, collection)
    days = _days(start, end)
    questions = dict(
        answers.annotate(day=TruncDate("created_at")).values_list("day").annotate(n=Count("pk"))
    )
    per_day = {
        row["day"]: row
        for row in calls.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            tokens=Sum(F("prompt_tokens") + F("completion_tokens")),
            cost=Sum("cost_usd"),
            answers=Count("pk", filter=Q(kind=LlmCall.Kind.ANSWER)),
            errors=Count("pk", filter=Q(kind=LlmCall.Kind.ANSWER) & ~Q(outcome="ok")),
            fallbacks=Count("pk", filter=Q(kind=LlmCall.Kind.ANSWER, fallback=True)),
        )
    }
    speed = {
        row["day"]: row
        for row in answers.filter(first_token_ms__isnull=False)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(p50=Percentile("first_token_ms", 0.5), p95=Percentile("first_token_ms", 0.95))
    }

    def daily(source: dict, key: str) -> list[tuple[str, float]]:
        return [(f"{d:%m-%d}", float((source.get(d) or {}).get(key) or 0)) for d in days]

    totals = calls.aggregate(
        tokens=Sum(F("prompt_tokens") + F("completion_tokens"), default=0),
        cost=Sum("cost_usd", default=0),
        answers=Count("pk", filter=Q(kind=LlmCall.Kind.ANSWER)),
        errors=Count("pk", filter=Q(kind=LlmCall.Kind.ANSWER) & ~Q(outcome="ok")),
        fallbacks=Count("pk", filter=Q(kind=LlmCall.Kind.ANSWER, fallback=True)),
    )
    ttft = answers.filter(first_token_ms__isnull=False).aggregate(
        p50=Percentile("first_token_ms", 0.5), p95=Percentile("first_token_ms", 0.95)
    )
    rate = {
        day: {
            "errors": 100 * row["errors"] / row["answers"] if row["answers"] else 0,
            "fallbacks": 100 * row["fallbacks"] / row["answers"] if row["answers"] else 0,
        }
        for day, row in per_day.items()
    }
    by_model = list(
        calls.values("provider", "model", "kind")
        .annotate(
            calls=Count("pk"),
            tokens=Sum(F("prompt_tokens") + F("completion_tokens")),
            cost=Sum("cost_usd"),
        )
        .order_by("-cost", "-calls")
    )
    return {
        "totals": {
            **totals,
            "questions": sum(questions.values()),
            "error_rate": 100 * totals["errors"] / totals["answers"] if totals["answers"] else 0,
            "fallback_rate": 100 * totals["fallbacks"] / totals["answers"]
            if totals["answers"]
            else 0,
            "ttft_p50": ttft["p50"],
            "ttft_p95": ttft["p95"],
        },
        "charts": [
            ("Questions per day", bars([(f"{d:%m-%d}", questions.get(d, 0)) for d in days])),
            ("Tokens per day", bars(daily(per_day, "tokens"))),
            ("Cost per day (USD)", bars(daily(per_day, "cost"), fmt="{:,.4f}")),
            ("Time to first token p50 (ms)", bars(daily(speed, "p50"))),
            ("Time to first token p95 (ms)", bars(daily(speed, "p95"))),
            ("Errors (% of answers)", bars(daily(rate, "errors"), fmt="{:.0f}%")),
            ("Fallbacks (% of answers)", bars(daily(rate, "fallbacks"), fmt="{:.0f}%")),
        ],
        "cost_by_model": bars(
            [(row["model"], float(row["cost"] or 0)) for row in by_model], fmt="{:,.4f}"
        ),
        "by_model": by_model,
        "top_users": list(
            calls.filter(user__isnull=False)
            .values("user__username")
            .annotate(
                questions=Count("message", distinct=True, filter=Q(kind=LlmCall.Kind.ANSWER)),
                tokens=Sum(F("prompt_tokens") + F("completion_tokens")),
                cost=Sum("cost_usd"),
            )
            .order_by("-tokens")[:10]
        ),
        "thumbs_down": Feedback.objects.filter(helpful=False, message__in=answers)
        .select_related("message", "user")
        .order_by("-created_at")[:20],
        "gaps": list(
            answers.filter(content_gap=True)
            .values("standalone_question")
            .annotate(times=Count("pk"))
            .order_by("-times", "standalone_question")[:30]
        ),
    }


@login_required
@permission_required(PERMISSION, raise_exception=True)
def usage(request: HttpRequest) -> TemplateResponse:
    form = FilterForm(request.GET or None)
    start, end, collection = form.period()
    context = {"form": form, "start": start, "end": end, **summary(start, end, collection)}
    return TemplateResponse(request, "assistant/usage.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_FIELDS = [
    "created_at",
    "user__username",
    "kind",
    "provider",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "estimated",
    "cached",
    "fallback",
    "cost_usd",
    "first_token_ms",
    "total_ms",
    "outcome",
    "message_id",
]


@login_required
@permission_required(PERMISSION, raise_exception=True)
def usage_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every model and embedding call in the period, one row each."""
    form = FilterForm(request.GET or None)
    start, end, collection = form.period()
    writer = csv.writer(_Echo())
    rows = _calls(start, end, collection).order_by("created_at").values_list(*CSV_FIELDS)
    lines = (writer.writerow(row) for row in chain([CSV_FIELDS], rows.iterator()))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{start}-{end}.csv"'
    return response
