"""People the company's identity provider or directory vouches for: their account here, made at
their first sign-in and brought up to date at every one, and their groups mapped to ours.

The mapping (DirectoryGroup rows in the admin, and DIRECTORY_GROUP_MAP) names directory groups
and the groups here their members get: roles (admin, staff, user) or groups that read
collections. A group here that some mapping names is the mapping's to give: at every sign-in a
person gets exactly the mapped groups their directory groups earn, and loses the others. Groups
no mapping names are left as an admin set them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from assistant.accounts.models import DirectoryGroup, ExternalIdentity
from assistant.audit import log


class SignInRefused(Exception):
    """The provider vouched for someone who may not sign in here; the message is for them."""


DEACTIVATED = _("Your account here is deactivated. Ask an administrator.")
_NOT_IN_USERNAMES = re.compile(r"[^\w.@+-]")


def group_map() -> dict[str, set[str]]:
    """Every mapping: a directory group's name, case-folded, to the names of groups here."""
    mapping: dict[str, set[str]] = {}
    for name, groups in settings.DIRECTORY_GROUP_MAP.items():
        mapping.setdefault(name.casefold(), set()).update(groups)
    for row in DirectoryGroup.objects.prefetch_related("groups"):
        mapping.setdefault(row.name.casefold(), set()).update(g.name for g in row.groups.all())
    return mapping


def sync_groups(user, directory_groups: Iterable[str]) -> None:
    """Give `user` the mapped groups their directory groups earn and take the other mapped ones;
    groups no mapping names stay as they are."""
    mapping = group_map()
    managed = set().union(*mapping.values())
    earned = set().union(*(mapping.get(name.casefold(), set()) for name in directory_groups))
    have = set(user.groups.filter(name__in=managed).values_list("name", flat=True))
    if gone := have - earned:
        user.groups.remove(*Group.objects.filter(name__in=gone))
    if new := earned - have:
        user.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in sorted(new)))


def free_username(wanted: str) -> str:
    """`wanted` made a valid username no account has yet ("ann", then "ann-2", …)."""
    user_model = get_user_model()
    base = _NOT_IN_USERNAMES.sub("_", wanted.strip())[:140] or "user"
    name, n = base, 1
    while user_model.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


@transaction.atomic
def sign_in(
    *,
    provider: str,
    subject: str,
    username: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    groups: Iterable[str] = (),
):
    """The account of the person `provider` knows as `subject`: made at their first sign-in (a
    name taken by another account gets a suffix, never that account), updated at every one.
    Raises SignInRefused for a deactivated account. One transaction: no half-made account."""
    groups = sorted(set(groups))
    identity = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(provider=provider, subject=subject)
        .first()
    )
    if identity is None:
        user = get_user_model()(username=free_username(username or email or subject))
        user.set_unusable_password()
        identity = ExternalIdentity(user=user, provider=provider, subject=subject)
        created = True
    else:
        user, created = identity.user, False
        if not user.is_active:
            raise SignInRefused(DEACTIVATED)
    user.email = email[:254]
    user.first_name = first_name[:150]
    user.last_name = last_name[:150]
    user.save()
    identity.user = user
    identity.groups = groups
    identity.last_sign_in = timezone.now()
    identity.save()
    sync_groups(user, groups)
    if created:
        log.record(log.Action.USER_CREATED, actor=user, target=user, changes={"provider": provider})
    return user
