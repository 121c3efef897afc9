"""Readable labels for Django's TextChoices, in a form mypy accepts.

Django reads ``NAME = "value", "label"`` as a member with a label, but mypy (this project runs
it without django-stubs, so Django's names are Any) types such a member as a tuple and rejects
every use of it as a str. ``labelled`` hides the tuple from mypy; Django sees the same thing.
"""

from typing import Any


def labelled(value: str, label: str) -> Any:
    """``NAME = labelled("value", "what a page shows")`` inside a TextChoices class."""
    return value, label
