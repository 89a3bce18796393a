"""The LDAP_* settings read into django-auth-ldap's; nonsense fails at start, naming the setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from assistant.lib import ldap_settings
from tests.conftest import ROOT

GOOD = {
    "server_uri": "ldaps://dc1.corp.example.com ldaps://dc2.corp.example.com",
    "bind_dn": "cn=svc-assistant,ou=services,dc=corp,dc=example,dc=com",
    "bind_password": "secret",
    "user_search_base": "ou=staff,dc=corp,dc=example,dc=com",
    "user_filter": "(sAMAccountName=%(user)s)",
    "user_dn_template": "",
    "start_tls": False,
    "ca_file": "",
    "tls_verify": True,
    "group_search_base": "ou=groups,dc=corp,dc=example,dc=com",
    "group_type": "nestedActiveDirectory",
    "attributes": {"first_name": "givenName", "last_name": "sn", "email": "mail"},
    "timeout_s": 5,
}


@pytest.mark.parametrize(
    ("setting", "changes"),
    [
        ("LDAP_SERVER_URI", {"server_uri": "dc1.corp.example.com"}),
        ("LDAP_USER_SEARCH_BASE", {"user_search_base": ""}),
        ("LDAP_USER_FILTER", {"user_filter": "(sAMAccountName=ann)"}),
        ("LDAP_USER_DN_TEMPLATE", {"user_dn_template": "uid=ann,ou=people"}),
        ("LDAP_GROUP_TYPE", {"group_type": "nestedGroups"}),
        ("LDAP_START_TLS", {"start_tls": True}),
        ("LDAP_CA_FILE", {"ca_file": "/nowhere/corp-root-ca.pem"}),
    ],
)
def test_settings_that_could_sign_nobody_in_fail_naming_the_setting(setting, changes):
    with pytest.raises(ImproperlyConfigured, match=setting):
        ldap_settings.auth_ldap_settings(**GOOD | changes)


def test_ldap_is_off_without_a_server_and_on_with_one():
    show = (
        "import json; from assistant import settings as s; "
        "print(json.dumps([s.AUTHENTICATION_BACKENDS[-1], getattr(s, 'AUTH_LDAP_SERVER_URI', ''),"
        " s.AUTH_LDAP_USER_SEARCH.filterstr if hasattr(s, 'AUTH_LDAP_USER_SEARCH') else '']))"
    )

    def read(**env: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", show],
            cwd=ROOT,
            env=os.environ | env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(result.stdout)

    assert read(LDAP_SERVER_URI="") == ["assistant.accounts.backends.DirectoryBackend", "", ""]
    assert read(
        LDAP_SERVER_URI="ldaps://dc1.corp.example.com",
        LDAP_USER_SEARCH_BASE="ou=staff,dc=corp,dc=example,dc=com",
        LDAP_USER_FILTER="(sAMAccountName=%(user)s)",
    ) == [
        "assistant.accounts.ldap.LDAPBackend",
        "ldaps://dc1.corp.example.com",
        "(sAMAccountName=%(user)s)",
    ]
