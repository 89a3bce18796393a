"""Typed readers for environment variables that fail loudly on nonsense."""

from __future__ import annotations

import ipaddress
import json
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_group_map(name: str) -> dict[str, list[str]]:
    """A JSON object from a name outside to the names of groups here: {"kc-admins": ["admin"]}.
    A group's name holds 1 to 150 characters, as Django's groups do."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {error}") from None
    if not isinstance(value, dict) or not all(
        isinstance(groups, list)
        and all(isinstance(group, str) and 0 < len(group) <= 150 for group in groups)
        for groups in value.values()
    ):
        raise ImproperlyConfigured(
            f'{name} must map each name to a list of group names, like {{"admins": ["admin"]}}'
        )
    return value


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = env_str(name, default).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def env_prices(name: str) -> dict[str, tuple[float, float]]:
    """Parse "model=input:output,..." (price per million tokens) into a dict."""
    prices: dict[str, tuple[float, float]] = {}
    for item in env_list(name, []):
        model, _, pair = item.partition("=")
        inp, _, out = pair.partition(":")
        try:
            prices[model.strip()] = (float(inp), float(out))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} entries look like model=input:output, got {item!r}"
            ) from None
    return prices


def env_networks(name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses or networks, comma-separated ("10.0.0.5,10.1.0.0/16")."""
    try:
        return [ipaddress.ip_network(item, strict=False) for item in env_list(name, [])]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}") from None


def env_url(name: str) -> str:
    """An http(s) address, or empty."""
    value = env_str(name)
    if value and not value.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"{name} must be an http(s) address, got {value!r}")
    return value
