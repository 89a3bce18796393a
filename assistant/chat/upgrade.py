"""Draft -> final: when a draft answer shows low confidence, the strong model answers once more
before the person has to ask ("High accuracy" without the click).

A draft is doubtful when
- it says the documents do not cover the question, though retrieval found passages close in
  meaning (a refusal over weak passages is honest: it stands);
- it answers but cites nothing, or cites numbers no passage has;
- it answers from passages retrieval itself doubts (its low-confidence signal).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from assistant.accounts import quotas
from assistant.chat.rendering import drop_unknown_markers, used_markers
from assistant.llm.prompts import Tier, says_not_covered
from assistant.llm.providers import ChatProvider, Provider
from ingest.search.retrieval import Retrieval


def may_upgrade(provider: Provider, *, high_accuracy: bool) -> bool:
    """Whether an answer by `provider` may get a second, stronger try: with a model, a strong
    tier that is another model, the setting on, and not already asked for high accuracy."""
    return (
        settings.AUTO_UPGRADE
        and not high_accuracy
        and isinstance(provider, ChatProvider)
        and provider.model_for(Tier.STRONG) != provider.model_for(Tier.DEFAULT)
    )


def reservation(provider: Provider, *, high_accuracy: bool) -> tuple[int, Decimal]:
    """What a question reserves of its asker's quota: the worst case, so a draft and its final
    answer both on the strong model's prices fit in it."""
    tokens, cost = quotas.estimate(
        provider.model_for(Tier.STRONG if high_accuracy else Tier.DEFAULT)
    )
    if may_upgrade(provider, high_accuracy=high_accuracy):
        more_tokens, more_cost = quotas.estimate(provider.model_for(Tier.STRONG))
        tokens, cost = tokens + more_tokens, cost + more_cost
    return tokens, cost


def doubtful(draft: str, *, passages: int, found: Retrieval) -> bool:
    """Whether a draft written from `passages` numbered passages shows low confidence."""
    if says_not_covered(draft):
        return not found.low_confidence
    kept, dropped = drop_unknown_markers(draft, set(range(1, passages + 1)))
    return bool(dropped) or not used_markers(kept) or found.low_confidence
