from __future__ import annotations

from django.db import connection

from assistant.tasks import ping


def test_a_real_worker_runs_a_task_through_the_filesystem_transport(celery_worker, settings):
    assert settings.CELERY_BROKER_URL == "filesystem://"

    result = ping.delay("hello").get(timeout=60)

    assert result == {"echo": "hello", "database": connection.settings_dict["NAME"]}
