"""`manage.py prepare`, the first step of `manage.py run`: database migrations, static files, the
first admin account and the demo content. Running it again changes nothing."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from assistant.accounts import roles
from ingest.models import Collection

ADMIN_USERNAME = "admin"
DEMO_COLLECTION = "Product guide"


class Command(BaseCommand):
    help = "Prepare the app to run: migrations, static files, the first admin, the demo content."

    def handle(self, *args, **options):
        self.stdout.write("Applying database migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(ensure_admin())
        ensure_demo_content()


def ensure_demo_content() -> None:
    """First run: ingest the demo documents into a public collection, in the foreground, so the
    demo question has its answer before the first page is served."""
    if not Collection.objects.filter(name=DEMO_COLLECTION).exists():
        call_command(
            "ingest",
            str(settings.BASE_DIR / "demo"),
            collection=DEMO_COLLECTION,
            public=True,
            wait=True,
        )


def ensure_admin() -> str:
    """Create the first admin with a random password, shown once and kept in var/ (mode 600)."""
    users = get_user_model()
    password_file = settings.VAR_DIR / "admin_password.txt"
    if users.objects.filter(is_superuser=True).exists():
        hint = f" (first-run password in {password_file})" if password_file.exists() else ""
        return f"Log in at /admin/ with your admin account{hint}."
    password = secrets.token_urlsafe(12)
    admin = users.objects.create_superuser(ADMIN_USERNAME, "", password)
    admin.groups.add(Group.objects.get(name=roles.ADMIN))
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return (
        f"Created the admin account. Log in at /admin/ as {ADMIN_USERNAME!r} with password "
        f"{password!r}\n(also saved in {password_file}; change it with "
        f"`.venv/bin/python manage.py changepassword {ADMIN_USERNAME}`)."
    )
