from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistantConfig(AppConfig):
    name = "assistant"
    verbose_name = _("Assistant")

    def ready(self) -> None:
        from assistant.accounts import roles
        from assistant.lib import request_id

        roles.connect()
        request_id.install_log_records()
