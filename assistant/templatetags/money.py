"""Money as each language writes it: "$1.50" in English, "1.50 美元" in Chinese."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext

register = template.Library()


@register.filter
def usd(amount, places: int = 2) -> str:
    """US dollars with `places` decimals, localised: {{ cost|usd:4 }}."""
    if amount is None or amount == "":
        return ""
    return gettext("$%(amount)s") % {"amount": floatformat(amount, places)}
