"""Filters for the rating form generated from a rubric version (annotate, review, admin preview)."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def scale_value(value: Any) -> str:
    """A stored value as the form carries it: ``true``/``false`` for booleans, else its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@register.filter
def value_display(value: Any) -> str:
    """A rater's value as a person reads it."""
    if value is None or isinstance(value, bool):
        return {None: "—", True: "Yes", False: "No"}[value]
    return scale_value(value)


@register.filter
def lookup(mapping: Any, key: str) -> Any:
    """``{{ values|lookup:criterion.key }}``; tolerant of a missing mapping (the admin preview has none)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None
