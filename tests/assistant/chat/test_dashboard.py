"""The usage dashboard: every period it is asked for is bounded before any work starts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from assistant.llm.models import LlmCall


@pytest.fixture
def calls(admin_user):
    for model in ("qwen-plus", "qwen-max"):
        LlmCall.objects.create(user=admin_user, provider="qwen", model=model, prompt_tokens=10)


def chart_bars(page: str) -> list[int]:
    """How many bars each chart on the page has."""
    return [svg.count("<rect") for svg in re.findall(r"<svg class=\"bars\".*?</svg>", page, re.S)]


def test_a_period_of_millennia_is_refused_at_once_and_the_last_30_days_shown(admin_client, calls):
    response = admin_client.get("/usage/", {"start": "0001-01-01", "end": "9999-12-31"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Choose a period of at most 731 days. Showing the last 30 days instead." in page
    assert set(chart_bars(page)) == {30}
    assert "qwen/qwen-max" in page


def test_past_90_days_the_charts_show_weeks_and_past_a_year_months(admin_client, calls):
    today = timezone.localdate()

    def page(days: int) -> str:
        period = {"start": today - timedelta(days=days - 1), "end": today}
        return admin_client.get("/usage/", period).content.decode()

    half_year, two_years = page(180), page(700)

    assert "Questions per week" in half_year
    assert 26 <= max(chart_bars(half_year)) <= 27
    assert "Questions per month" in two_years
    assert 23 <= max(chart_bars(two_years)) <= 24


def test_the_csv_export_refuses_a_period_past_the_limit(admin_client, calls, settings):
    settings.USAGE_MAX_DAYS = 10

    refused = admin_client.get("/usage/export.csv", {"start": "2026-01-01", "end": "2026-12-31"})
    allowed = admin_client.get("/usage/export.csv")

    assert refused.status_code == 400
    assert refused.content.decode() == "Choose a period of at most 10 days."
    assert b"qwen-max" in b"".join(allowed.streaming_content)


@pytest.mark.parametrize(
    ("period", "reason"),
    [
        ({"start": "9999-12-31"}, "The period starts after it ends."),
        ({"start": "0001-01-01"}, "Choose a period of at most 731 days."),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "The period starts after it ends."),
    ],
)
def test_a_one_sided_period_is_bounded_by_its_other_end(admin_client, calls, period, reason):
    page = admin_client.get("/usage/", period).content.decode()
    csv = admin_client.get("/usage/export.csv", period)

    assert f"{reason} Showing the last 30 days instead." in page
    assert set(chart_bars(page)) == {30}
    assert csv.status_code == 400
    assert csv.content.decode() == reason


def test_a_missing_start_is_the_30_days_up_to_the_end(admin_client, calls):
    end = timezone.localdate() - timedelta(days=3)

    response = admin_client.get("/usage/", {"end": end.isoformat()})

    assert response.context["start"] == end - timedelta(days=29)
    assert response.context["end"] == end


def test_the_dashboard_shows_how_often_drafts_were_answered_again_and_what_it_cost(
    admin_client, admin_user
):
    for kind, model, cost in [
        ("answer", "qwen-plus", "0.001"),
        ("answer", "qwen-plus", "0.001"),
        ("answer", "qwen-plus", "0.001"),
        ("answer", "qwen-plus", "0.001"),
        ("final", "qwen-max", "0.0125"),
    ]:
        LlmCall.objects.create(
            user=admin_user, provider="qwen", model=model, kind=kind, cost_usd=cost
        )

    page = admin_client.get("/usage/").content.decode()

    assert "25.0%" in page
    assert "answered again by the strong model ($0.0125)" in page
    assert "Final answer (stronger model)" in page
