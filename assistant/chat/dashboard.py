"""The usage dashboard for admins and staff: questions, tokens, cost, speed, errors, gaps."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import chain

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Aggregate, Count, DateField, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth, TruncWeek
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from assistant.audit import log
from assistant.chat import review_queue
from assistant.chat.models import Feedback, Message
from assistant.llm.models import LlmCall
from ingest.models import Collection, Source, SourceSync

PERMISSION = "assistant.view_llmcall"


class Percentile(Aggregate):
    """The nearest-rank percentile (a measured value, as the evaluation's `percentile`)."""

    function = "percentile_disc"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=fraction, **extra)


DEFAULT_DAYS = 30


class FilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    collection = forms.ModelChoiceField(
        queryset=Collection.objects.all(),
        required=False,
        empty_label=gettext_lazy("All collections"),
    )

    def clean(self):
        """Both ends, always: a missing end is today, a missing start the end's last 30 days;
        the period must run forwards and be at most USAGE_MAX_DAYS long."""
        data = super().clean()
        end = data.get("end") or timezone.localdate()
        try:
            start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        except OverflowError:
            start = date.min
        if start > end:
            raise forms.ValidationError(_("The period starts after it ends."))
        if (end - start).days + 1 > settings.USAGE_MAX_DAYS:
            raise forms.ValidationError(
                _("Choose a period of at most %(days)d days.") % {"days": settings.USAGE_MAX_DAYS}
            )
        data["start"], data["end"] = start, end
        return data

    def period(self) -> tuple[date, date, Collection | None]:
        """The period asked for, or the last 30 days when it is missing or refused."""
        if self.is_valid():
            data = self.cleaned_data
            return data["start"], data["end"], data.get("collection")
        today = timezone.localdate()
        return today - timedelta(days=DEFAULT_DAYS - 1), today, None


@dataclass(frozen=True)
class Bar:
    label: str
    tick: str
    x: float
    y: float
    width: float
    height: float
    text: str


CHART_WIDTH, CHART_HEIGHT = 560, 140


TICKS = {"day": "%d", "week": "%m-%d", "month": "%Y-%m"}
# A chart's title names its bucket: "Questions per day" (问题数（按天）).
BUCKET_NAMES = {
    "day": lambda: pgettext("chart bucket", "day"),
    "week": lambda: pgettext("chart bucket", "week"),
    "month": lambda: pgettext("chart bucket", "month"),
}


def bars(series: list[tuple[date, float]], *, fmt: str = "{:,.0f}", tick: str = "%d") -> dict:
    """Geometry for one small SVG bar chart over days (see templates/chat/_bars.html)."""
    step = CHART_WIDTH / max(len(series), 1)
    top = max((value for _, value in series), default=0)
    every = max(len(series) // 10, 1)
    shapes = []
    for i, (day, value) in enumerate(series):
        h = value / top * (CHART_HEIGHT - 24) if top else 0
        shapes.append(
            Bar(
                label=f"{day:%Y-%m-%d}",
                tick=day.strftime(tick) if i % every == 0 else "",
                x=i * step + step * 0.15,
                y=CHART_HEIGHT - 20 - h,
                width=step * 0.7,
                height=h,
                text=fmt.format(value),
            )
        )
    return {"bars": shapes, "width": CHART_WIDTH, "height": CHART_HEIGHT, "max": fmt.format(top)}


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


# One bar per day up to 90 days, then per week up to a year, then per month: a chart has at most
# about ninety bars, whatever the period.
BUCKETS = [(90, "day", TruncDate), (366, "week", TruncWeek), (None, "month", TruncMonth)]


def _bucketing(start: date, end: date) -> tuple[str, type[TruncDate], list[date]]:
    """The bucket size for the period, its SQL truncation and every bucket's first day."""
    days = (end - start).days + 1
    name, trunc = next((n, t) for most, n, t in BUCKETS if most is None or days <= most)
    firsts = {
        "day": lambda d: d,
        "week": lambda d: d - timedelta(days=d.weekday()),
        "month": lambda d: d.replace(day=1),
    }[name]
    buckets = sorted({firsts(start + timedelta(days=i)) for i in range(days)})
    return name, trunc, buckets


def _call_figures() -> dict:
    """What the call figures are made of, per day or over the whole period."""
    answer = Q(kind=LlmCall.Kind.ANSWER)
    return {
        "tokens": Sum(F("prompt_tokens") + F("completion_tokens"), default=0),
        "cost": Sum("cost_usd", default=0),
        "answers": Count("pk", filter=answer),
        "errors": Count("pk", filter=answer & ~Q(outcome=LlmCall.Outcome.OK)),
        "fallbacks": Count("pk", filter=answer & Q(fallback=True)),
        "upgrades": Count("pk", filter=Q(kind=LlmCall.Kind.FINAL)),
        "upgrade_cost": Sum("cost_usd", filter=Q(kind=LlmCall.Kind.FINAL), default=0),
    }


def _first_token_figures() -> dict:
    return {"p50": Percentile("first_token_ms", 0.5), "p95": Percentile("first_token_ms", 0.95)}


def _rates(figures: dict) -> dict:
    """Errors, fallbacks and upgrades (draft -> final) as a percentage of the answers."""
    answers = figures["answers"]
    return {
        name: 100 * figures[name] / answers if answers else 0
        for name in ("errors", "fallbacks", "upgrades")
    }


def summary(start: date, end: date, collection: Collection | None) -> dict:
    answers = _messages(start, end, collection)
    calls = _calls(start, end, collection)
    bucket, trunc, days = _bucketing(start, end)
    day = trunc("created_at", output_field=DateField())
    questions = dict(answers.annotate(day=day).values_list("day").annotate(n=Count("pk")))
    per_day = {
        row["day"]: row for row in calls.annotate(day=day).values("day").annotate(**_call_figures())
    }
    speed = {
        row["day"]: row
        for row in answers.filter(first_token_ms__isnull=False)
        .annotate(day=day)
        .values("day")
        .annotate(**_first_token_figures())
    }

    def daily(source: dict, key: str) -> list[tuple[date, float]]:
        return [(d, float((source.get(d) or {}).get(key) or 0)) for d in days]

    totals = calls.aggregate(**_call_figures())
    ttft = answers.filter(first_token_ms__isnull=False).aggregate(**_first_token_figures())
    rate = {day: _rates(row) for day, row in per_day.items()}
    total_rates = _rates(totals)
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
            "error_rate": total_rates["errors"],
            "fallback_rate": total_rates["fallbacks"],
            "upgrade_rate": total_rates["upgrades"],
            "ttft_p50": ttft["p50"],
            "ttft_p95": ttft["p95"],
        },
        "charts": [
            (
                _("%(what)s per %(bucket)s") % {"what": title, "bucket": BUCKET_NAMES[bucket]()},
                bars(series, fmt=fmt, tick=TICKS[bucket]),
            )
            for title, series, fmt in [
                (_("Questions"), [(d, questions.get(d, 0)) for d in days], "{:,.0f}"),
                (_("Tokens"), daily(per_day, "tokens"), "{:,.0f}"),
                (_("Cost (USD)"), daily(per_day, "cost"), "{:,.6f}"),
                (_("Time to first token p50 (ms)"), daily(speed, "p50"), "{:,.0f}"),
                (_("Time to first token p95 (ms)"), daily(speed, "p95"), "{:,.0f}"),
                # xgettext:no-python-format
                (_("Errors (% of answers)"), daily(rate, "errors"), "{:.0f}%"),
                # xgettext:no-python-format
                (_("Fallbacks (% of answers)"), daily(rate, "fallbacks"), "{:.0f}%"),
            ]
        ],
        "by_model": [
            {**row, "kind_label": LlmCall.Kind(row["kind"]).label}
            for row in _with_shares(by_model, "cost")
        ],
        "top_users": _top_users(answers, calls),
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


def _with_shares(rows: list[dict], key: str) -> list[dict]:
    """Each row's share of the largest, in percent, for an inline bar."""
    top = max((float(row[key] or 0) for row in rows), default=0)
    return [{**row, "share": 100 * float(row[key] or 0) / top if top else 0} for row in rows]


def _top_users(answers: QuerySet[Message], calls: QuerySet[LlmCall], n: int = 10) -> list[dict]:
    asked = dict(
        answers.values_list("conversation__owner__username").annotate(questions=Count("pk"))
    )
    spent = {
        row["user__username"]: row
        for row in calls.filter(user__isnull=False)
        .values("user__username")
        .annotate(tokens=Sum(F("prompt_tokens") + F("completion_tokens")), cost=Sum("cost_usd"))
    }
    rows = [
        {
            "username": name,
            "questions": asked.get(name, 0),
            "tokens": (spent.get(name) or {}).get("tokens") or 0,
            "cost": (spent.get(name) or {}).get("cost") or 0,
        }
        for name in set(asked) | set(spent)
    ]
    rows.sort(key=lambda row: (-row["cost"], -row["tokens"], -row["questions"]))
    return rows[:n]


@login_required
@permission_required(PERMISSION, raise_exception=True)
def page(request: HttpRequest) -> TemplateResponse:
    form = FilterForm(request.GET or None)
    start, end, collection = form.period()
    context = {"form": form, "start": start, "end": end, **summary(start, end, collection)}
    context["failing_sources"] = failing_sources()
    context["review"] = review_queue.counts()
    return TemplateResponse(request, "chat/dashboard.html", context)


def failing_sources() -> list[tuple[Source, SourceSync]]:
    """Sources whose last sync failed, or could not read some of its pages or files."""
    failing = []
    for source in Source.objects.select_related("collection"):
        last = source.last_sync
        if last and (last.status == SourceSync.Status.FAILED or last.failed):
            failing.append((source, last))
    return failing


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
def export_csv(request: HttpRequest) -> HttpResponse:
    """Every model and embedding call in the period, one row each."""
    form = FilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest(" ".join(form.non_field_errors()), content_type="text/plain")
    start, end, collection = form.period()
    writer = csv.writer(_Echo())
    rows = _calls(start, end, collection).order_by("created_at").values_list(*CSV_FIELDS)
    lines = (writer.writerow(row) for row in chain([CSV_FIELDS], rows.iterator()))
    period = {"start": str(start), "end": str(end), "collection": str(collection or "")}
    log.record(log.Action.USAGE_EXPORTED, changes=period)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{start}-{end}.csv"'
    return response
