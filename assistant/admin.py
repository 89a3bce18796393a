"""The admin pages of the `assistant` app's models, registered by the package each belongs to."""

from assistant.accounts import admin as accounts_admin
from assistant.chat import admin as chat_admin
from assistant.llm import admin as llm_admin

__all__ = ["accounts_admin", "chat_admin", "llm_admin"]
