from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assistant.accounts import tokens
from assistant.lib.schema import ensure_migrated


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME and print it (it is stored only hashed)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="Created from the command line")

    def handle(self, *args, username: str, name: str, **options):
        ensure_migrated(self.stdout)
        try:
            user = get_user_model().objects.get(username=username, is_active=True)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No active user named {username!r}.") from None
        _, token = tokens.create(user, name)
        self.stdout.write(token)
