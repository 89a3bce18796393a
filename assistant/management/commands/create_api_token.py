from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assistant.accounts import tokens
from assistant.accounts.views import TokenForm
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
        form = TokenForm({"name": name})  # the account page's rules: at most 100 characters
        if not form.is_valid():
            raise CommandError(f"--name: {' '.join(form.errors['name'])}")
        _, token = tokens.create(user, form.cleaned_data["name"])
        self.stdout.write(token)
