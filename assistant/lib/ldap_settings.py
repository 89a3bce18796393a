"""The LDAP / Active Directory settings (LDAP_*) read into django-auth-ldap's (AUTH_LDAP_*).

Two ways to find a person's entry: bind as a service account and search (LDAP_BIND_DN,
LDAP_USER_SEARCH_BASE, LDAP_USER_FILTER), or bind straight as the DN a template makes of the
name they typed (LDAP_USER_DN_TEMPLATE). TLS is ldaps:// or StartTLS, the server's certificate
always checked unless LDAP_TLS_VERIFY is off. Their groups (full DNs) are what the directory
group mapping maps: see assistant/accounts/ldap.py.
"""

from __future__ import annotations

from pathlib import Path

import ldap
from django.core.exceptions import ImproperlyConfigured
from django_auth_ldap import config

# LDAP_GROUP_TYPE: how groups name their members, and the filter that finds groups.
GROUP_TYPES: dict[str, tuple[type[config.LDAPGroupType], str]] = {
    "groupOfNames": (config.GroupOfNamesType, "(objectClass=groupOfNames)"),
    "nestedGroupOfNames": (config.NestedGroupOfNamesType, "(objectClass=groupOfNames)"),
    "activeDirectory": (config.ActiveDirectoryGroupType, "(objectClass=group)"),
    "nestedActiveDirectory": (config.NestedActiveDirectoryGroupType, "(objectClass=group)"),
    "posixGroup": (config.PosixGroupType, "(objectClass=posixGroup)"),
}
# The entry's stable id (OpenLDAP's entryUUID is operational: only sent when named; Active
# Directory sends objectGUID with the rest), asked for beside every user attribute.
USER_ATTRIBUTES = ["*", "entryUUID"]


def auth_ldap_settings(
    *,
    server_uri: str,
    bind_dn: str,
    bind_password: str,
    user_search_base: str,
    user_filter: str,
    user_dn_template: str,
    start_tls: bool,
    ca_file: str,
    tls_verify: bool,
    group_search_base: str,
    group_type: str,
    attributes: dict[str, str],
    timeout_s: int,
) -> dict[str, object]:
    """django-auth-ldap's settings for a directory at `server_uri`; `attributes` maps first_name,
    last_name and email to the directory's attribute names. Raises ImproperlyConfigured on
    settings that could not sign anyone in."""
    for uri in server_uri.split():
        if not uri.lower().startswith(("ldap://", "ldaps://")):
            raise ImproperlyConfigured(f"LDAP_SERVER_URI must be ldap:// or ldaps://, got {uri!r}")
    if not (user_dn_template or user_search_base):
        raise ImproperlyConfigured(
            "LDAP_SERVER_URI needs LDAP_USER_SEARCH_BASE or LDAP_USER_DN_TEMPLATE"
        )
    for name, value in (
        ("LDAP_USER_FILTER", user_filter),
        ("LDAP_USER_DN_TEMPLATE", user_dn_template),
    ):
        if value and "%(user)s" not in value:
            raise ImproperlyConfigured(f"{name} must contain %(user)s, got {value!r}")
    if start_tls and "ldaps://" in server_uri.lower():
        raise ImproperlyConfigured("LDAP_START_TLS is for ldap:// URIs: ldaps:// is TLS already")
    if ca_file and not Path(ca_file).is_file():
        raise ImproperlyConfigured(f"LDAP_CA_FILE {ca_file!r} is not a file")
    if group_type not in GROUP_TYPES:
        raise ImproperlyConfigured(
            f"LDAP_GROUP_TYPE must be one of {sorted(GROUP_TYPES)}, got {group_type!r}"
        )

    options: dict[int, object] = {
        # Active Directory refers searches at the domain's root elsewhere; following them fails.
        ldap.OPT_REFERRALS: 0,
        ldap.OPT_NETWORK_TIMEOUT: timeout_s,
        ldap.OPT_TIMEOUT: timeout_s,
        ldap.OPT_X_TLS_REQUIRE_CERT: ldap.OPT_X_TLS_DEMAND if tls_verify else ldap.OPT_X_TLS_NEVER,
    }
    if ca_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = ca_file
    # Last: the connection's TLS context is made anew from the options set before it.
    options[ldap.OPT_X_TLS_NEWCTX] = 0

    group_class, group_filter = GROUP_TYPES[group_type]
    return {
        "AUTH_LDAP_SERVER_URI": server_uri,
        "AUTH_LDAP_BIND_DN": bind_dn,
        "AUTH_LDAP_BIND_PASSWORD": bind_password,
        # Without a service account, the person's own bind reads their entry and groups.
        "AUTH_LDAP_BIND_AS_AUTHENTICATING_USER": not bind_dn,
        "AUTH_LDAP_USER_DN_TEMPLATE": user_dn_template or None,
        "AUTH_LDAP_USER_SEARCH": (
            config.LDAPSearch(user_search_base, ldap.SCOPE_SUBTREE, user_filter, USER_ATTRIBUTES)
            if user_search_base
            else None
        ),
        "AUTH_LDAP_USER_ATTRLIST": USER_ATTRIBUTES,
        "AUTH_LDAP_USER_ATTR_MAP": attributes,
        "AUTH_LDAP_START_TLS": start_tls,
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        "AUTH_LDAP_GROUP_TYPE": group_class(),
        "AUTH_LDAP_GROUP_SEARCH": (
            # Only the name: a big group's member list is no use here.
            config.LDAPSearch(group_search_base, ldap.SCOPE_SUBTREE, group_filter, ["cn"])
            if group_search_base
            else None
        ),
    }
