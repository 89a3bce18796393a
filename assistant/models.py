"""The `assistant` app's models, defined in the packages they belong to.

They keep the app label `assistant` (so their tables, migrations, permissions and admin URLs are
the ones existing deployments have) while their code lives with its domain.
"""

from assistant.accounts.models import ApiToken, QuotaCounter, QuotaOverride, Throttle
from assistant.audit.models import AuditEntry
from assistant.chat.models import Citation, Conversation, EvaluationRun, Feedback, Message
from assistant.llm.models import LlmCall

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Citation",
    "Conversation",
    "EvaluationRun",
    "Feedback",
    "LlmCall",
    "Message",
    "QuotaCounter",
    "QuotaOverride",
    "Throttle",
]
