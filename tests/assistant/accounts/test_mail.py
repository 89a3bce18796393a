"""Password reset e-mail: written to a file offline, sent by SMTP when configured, and a failed
send is logged while the person sees the same neutral message."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assistant.lib import mail
from assistant.lib.ports import free_port
from tests.conftest import manage

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann(django_user_model):
    return django_user_model.objects.create_user(
        "ann", email="ann@example.com", password="pw-ann-123456"
    )


def test_a_reset_link_is_written_to_a_file_and_its_place_logged(
    client, ann, settings, tmp_path, caplog
):
    settings.EMAIL_BACKEND = mail.FILE_BACKEND
    settings.EMAIL_FILE_PATH = str(tmp_path)

    with caplog.at_level(logging.INFO, logger="assistant.lib.mail"):
        response = client.post("/accounts/password_reset/", {"email": "ann@example.com"})

    assert response.status_code == 302
    [written] = list(tmp_path.iterdir())
    message = written.read_text()
    assert "To: ann@example.com" in message
    assert "/accounts/reset/" in message
    assert str(tmp_path) in caplog.text


def test_a_failed_send_is_logged_and_the_person_sees_the_neutral_message(
    client, ann, settings, caplog
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens

    response = client.post("/accounts/password_reset/", {"email": "ann@example.com"}, follow=True)

    assert response.status_code == 200
    assert "emailed you instructions" in response.content.decode()
    assert "Failed to send password reset email" in caplog.text
    assert "ConnectionRefusedError" in caplog.text


def test_email_url_chooses_the_backend():
    assert mail.settings_from_url("", default_folder=Path("/v/mail")) == {
        "EMAIL_BACKEND": mail.FILE_BACKEND,
        "EMAIL_FILE_PATH": "/v/mail",
    }
    smtp = mail.settings_from_url("smtp+tls://me%40corp:s%3Acret@mail.corp", default_folder=Path())
    assert smtp["EMAIL_HOST"] == "mail.corp"
    assert (smtp["EMAIL_PORT"], smtp["EMAIL_USE_TLS"], smtp["EMAIL_USE_SSL"]) == (587, True, False)
    assert (smtp["EMAIL_HOST_USER"], smtp["EMAIL_HOST_PASSWORD"]) == ("me@corp", "s:cret")


def test_the_embedded_default_writes_mail_under_var(newcomer_env):
    result = manage("sendtestemail", "someone@example.com", env=newcomer_env)

    assert result.returncode == 0, result.stderr
    folder = Path(newcomer_env["VAR_DIR"]) / "mail"
    assert len(list(folder.iterdir())) == 1
    assert str(folder) in result.stderr
