from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from assistant.lib.env import (
    env_bool,
    env_choice,
    env_group_map,
    env_int,
    env_list,
    env_prices,
    env_url,
)


def test_typed_helpers_read_good_values(monkeypatch):
    monkeypatch.setenv("N", "12")
    monkeypatch.setenv("B", "yes")
    monkeypatch.setenv("L", "qwen-turbo, qwen-plus,")
    monkeypatch.setenv("P", "qwen-plus=0.4:1.2")

    assert env_int("N", 1) == 12
    assert env_bool("B", False) is True
    assert env_list("L", []) == ["qwen-turbo", "qwen-plus"]
    assert env_prices("P") == {"qwen-plus": (0.4, 1.2)}
    assert env_int("MISSING", 5) == 5
    assert env_url("MISSING") == ""
    monkeypatch.setenv("G", '{"CN=Admins,DC=example,DC=org": ["admin", "Handbook readers"]}')
    assert env_group_map("G") == {"CN=Admins,DC=example,DC=org": ["admin", "Handbook readers"]}


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        ("N", "twelve", lambda: env_int("N", 1)),
        ("N", "-3", lambda: env_int("N", 1, minimum=0)),
        ("B", "maybe", lambda: env_bool("B", False)),
        ("C", "gpt", lambda: env_choice("C", "qwen", {"qwen", "extractive"})),
        ("P", "qwen-plus=cheap", lambda: env_prices("P")),
        ("U", "keycloak.example/realms/acme", lambda: env_url("U")),
        ("G", '{"admins": "admin"}', lambda: env_group_map("G")),
        ("G", '{"admins": ["' + "x" * 151 + '"]}', lambda: env_group_map("G")),
        ("G", "admins=admin", lambda: env_group_map("G")),
    ],
)
def test_nonsense_fails_loudly_with_the_variable_name(monkeypatch, name, value, read):
    monkeypatch.setenv(name, value)

    with pytest.raises(ImproperlyConfigured, match=name):
        read()
