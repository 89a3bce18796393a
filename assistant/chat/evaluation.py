"""The answer-level golden set: each question through the whole answer pipeline, scored.

Each question is asked in a conversation of its own, by the inactive `evaluation` account (no
quota, reads only the collection under test), with the configured provider and no answer cache.
The figures: how often it answers and how often it says "not covered", on answerable and
unanswerable questions and per language; the share of answers whose cited passages include a
gold page (or document); time to first token; tokens and cost of every call the answers made;
how often a draft was answered again by the strong model (draft -> final) and the cost per
answer with and without those second tries; and how reviewed answers matched: a question marked
`"reviewed": true` (a paraphrase of a reviewed question) should get one, one marked `false` (a
near miss) should not.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Q, Sum

from assistant.accounts.models import QuotaOverride
from assistant.chat.answers import answer_fully
from assistant.chat.conversations import ask
from assistant.chat.models import Conversation, Message
from assistant.llm.models import LlmCall
from ingest.models import Collection
from ingest.search.evaluation import Location, gate_rates, gold_rank, mean, percentile

EVALUATOR = "evaluation"


def evaluator():
    """The account questions are asked as: a superuser that cannot log in, with no quota."""
    user, created = get_user_model().objects.get_or_create(
        username=EVALUATOR, defaults={"is_active": False, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()
        QuotaOverride.objects.create(
            user=user, questions_per_day=0, tokens_per_day=0, cost_per_month_usd=0
        )
    return user


def answer_row(item: dict, collection: Collection, user) -> dict:
    """Ask one question and describe what came back."""
    conversation = Conversation.objects.create(owner=user)
    message = ask(
        conversation=conversation,
        question=item["q"],
        high_accuracy=False,
        collections=[collection],
    )
    answer_fully(message, user=user, use_cache=False)
    message.refresh_from_db()
    cited = [
        Location(
            c.source_path,
            c.chunk.page_start if c.chunk else None,
            c.chunk.page_end if c.chunk else None,
        )
        for c in message.citations.filter(used=True).select_related("chunk")
    ]
    calls = LlmCall.objects.filter(message=message).aggregate(
        prompt=Sum("prompt_tokens", default=0),
        completion=Sum("completion_tokens", default=0),
        cost=Sum("cost_usd", default=Decimal(0)),
        final_cost=Sum("cost_usd", filter=Q(kind=LlmCall.Kind.FINAL), default=Decimal(0)),
    )
    return {
        **item,
        "not_covered": message.content_gap,
        "failed": message.status != Message.Status.SUCCEEDED,
        "gold_cited": any(gold_rank(gold, cited) for gold in item.get("gold", [])),
        "first_token_ms": message.first_token_ms,
        "tokens": calls["prompt"] + calls["completion"],
        "cost_usd": float(calls["cost"]),
        "final_cost_usd": float(calls["final_cost"]),
        "upgraded": message.upgraded,
        "reviewed_answer_id": message.reviewed_answer_id,
        "message_id": message.pk,
    }


def summarise_answers(rows: list[dict]) -> dict:
    answerable = [r for r in rows if not r.get("unanswerable")]
    answered = [r for r in answerable if not r["not_covered"] and not r["failed"]]
    first_tokens = sorted(r["first_token_ms"] for r in rows if r["first_token_ms"] is not None)
    return {
        "questions": len(rows),
        "answered_share": len(answered) / len(answerable) if answerable else 0.0,
        "not_covered": gate_rates(rows),
        "gold_cited_share": mean([1.0 if r["gold_cited"] else 0.0 for r in answered]),
        "failed": sum(r["failed"] for r in rows),
        "first_token_ms": {
            "p50": percentile(first_tokens, 50),
            "p95": percentile(first_tokens, 95),
        },
        "tokens": sum(r["tokens"] for r in rows),
        "tokens_per_question": sum(r["tokens"] for r in rows) / len(rows) if rows else 0.0,
        "cost_usd": round(sum(r["cost_usd"] for r in rows), 6),
        "upgrade_rate": mean([1.0 if r["upgraded"] else 0.0 for r in rows]),
        "cost_per_answer_usd": round(mean([r["cost_usd"] for r in rows]), 6),
        "cost_per_answer_without_upgrade_usd": round(
            mean([r["cost_usd"] - r["final_cost_usd"] for r in rows]), 6
        ),
        "reviewed_answers": reviewed_matches(rows),
    }


def reviewed_matches(rows: list[dict]) -> dict:
    """Reviewed answers served: to paraphrases (true matches, or missed) and to near misses
    (false matches), counted over the questions that say which they are."""
    expected = [r for r in rows if r.get("reviewed") is True]
    near_misses = [r for r in rows if r.get("reviewed") is False]
    return {
        "served": sum(1 for r in rows if r["reviewed_answer_id"]),
        "paraphrases": len(expected),
        "true_matches": sum(1 for r in expected if r["reviewed_answer_id"]),
        "near_misses": len(near_misses),
        "false_matches": sum(1 for r in near_misses if r["reviewed_answer_id"]),
    }
