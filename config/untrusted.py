"""Untrusted text and JSON: the one check every writer calls, and how rows stored before it read.

Two kinds of text cannot be stored, and are refused wherever text comes in (API bodies through
config/parsers.py, import files through annotation/services/rows.py, the admin and the services
through ``EncodableJSONField.validate``, ratings and judges' verdicts through
``rubrics.scales.values_clean``):

- a lone UTF-16 surrogate (U+D800 to U+DFFF on its own). JSON can spell one (``"\\ud800"``) and
  Python decodes it, but it is not a character and UTF-8 cannot encode it: PostgreSQL refuses
  it, while SQLite kept it in JSON columns and every page, list and export that read the row
  then failed to encode its answer;
- the NUL character, which PostgreSQL cannot store in text or JSON.

The error names the field by its path (``data.messages[2].content``); the offending text is never
echoed, so the error itself can always be encoded. JSON nested deeper than ``MAX_JSON_DEPTH``
is refused before anything recurses over it (Python's parser and serialisers recurse).

Rows stored before this check existed are read through ``EncodableJSONField`` with each bad
character replaced by U+FFFD, so no page or export fails on them; ``manage.py repair_text``
rewrites them the same way.
"""

import json
import re
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

MAX_JSON_DEPTH = 64
MAX_REPORTED = 20
REPLACEMENT = "\ufffd"

SURROGATE_MESSAGE = "contains a lone UTF-16 surrogate (U+D800 to U+DFFF), which is not text and cannot be stored."
NUL_MESSAGE = "must not contain the NUL character (\\u0000)."
DEPTH_MESSAGE = f"is nested deeper than {MAX_JSON_DEPTH} levels."

_BAD_CHARACTER = re.compile("[\ud800-\udfff\x00]")
# In JSON text a surrogate or a NUL can only be written as a \u escape (raw UTF-8 cannot encode a
# surrogate, and a raw control character is invalid JSON): text without such an escape needs no
# walk. Valid surrogate pairs (json.dumps writes emoji that way) match too, and are then walked.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_SUSPECT_ESCAPE_BYTES = re.compile(rb"\\u(?:[dD][89a-fA-F]|0000)")


class UntrustedInputError(ValueError):
    """Input that cannot be stored; ``errors`` maps each offending field path to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{path}: {' '.join(messages)}" for path, messages in errors.items()))
        self.errors = errors


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    match = _BAD_CHARACTER.search(text)
    if match is None:
        return None
    return NUL_MESSAGE if match.group() == "\x00" else SURROGATE_MESSAGE


def _key_text(key: Any) -> str:
    # A key that is itself bad must still be printable in the error: escape what cannot be encoded.
    return str(key).encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")


def field_path(parts: tuple) -> str:
    """``("data", "messages", 2, "content")`` -> ``data.messages[2].content``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _key_text(part)
    return out or "body"


def _too_deep(value: Any, max_depth: int) -> bool:
    """Whether any container nests deeper than ``max_depth``: the fast check every body gets
    (about 0.2 s for a 100,000-item import); json_problems then finds where."""
    stack = [(value, 1)] if type(value) in (dict, list) else []
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        for child in node.values() if type(node) is dict else node:
            if type(child) in (dict, list):
                stack.append((child, depth + 1))
    return False


def json_problems(value: Any, *, path: tuple = (), texts: bool = True, max_depth: int = MAX_JSON_DEPTH) -> dict:
    """{field path: [messages]} for what in a parsed JSON value cannot be stored: nesting deeper
    than ``max_depth``, and (with ``texts``) bad characters in strings and in object keys.
    Stops after MAX_REPORTED problems. Iterative, so the value's own depth cannot overflow it."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, int, tuple]] = [(value, 1, path)]
    while stack and len(problems) < MAX_REPORTED:
        node, depth, where = stack.pop()
        if type(node) is dict:
            if depth > max_depth:
                problems[field_path(where)] = [DEPTH_MESSAGE]
                continue
            for key, child in node.items():
                if texts and isinstance(key, str) and (problem := text_problem(key)):
                    problems[field_path((*where, key))] = [f"its name {problem}"]
                if isinstance(child, dict | list) or (texts and isinstance(child, str)):
                    stack.append((child, depth + 1, (*where, key)))
        elif type(node) is list:
            if depth > max_depth:
                problems[field_path(where)] = [DEPTH_MESSAGE]
                continue
            for index, child in enumerate(node):
                if isinstance(child, dict | list) or (texts and isinstance(child, str)):
                    stack.append((child, depth + 1, (*where, index)))
        elif isinstance(node, str) and (problem := text_problem(node)):
            problems[field_path(where)] = [problem]
    return problems


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_loads_checked(raw: str | bytes, *, path: tuple = (), strict: bool = False) -> Any:
    """Parse untrusted JSON text; raise UntrustedInputError when it nests deeper than
    MAX_JSON_DEPTH or holds text that cannot be stored, ValueError when it is not JSON
    (``strict``: nor are NaN and Infinity)."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant if strict else None)
    except RecursionError:
        raise UntrustedInputError({field_path(path): [DEPTH_MESSAGE]}) from None
    suspect = (_SUSPECT_ESCAPE_BYTES if isinstance(raw, bytes | bytearray) else _SUSPECT_ESCAPE).search(raw)
    if suspect is None and not _too_deep(value, MAX_JSON_DEPTH):
        return value  # the common case: no walk that builds paths
    problems = json_problems(value, path=path, texts=suspect is not None)
    if problems:
        raise UntrustedInputError(problems)
    return value


def json_check(value: Any, *, path: tuple = ()) -> None:
    """Raise UntrustedInputError for an already parsed value (depth and text)."""
    problems = json_problems(value, path=path)
    if problems:
        raise UntrustedInputError(problems)


def text_storable(value: Any) -> Any:
    """``value`` with every lone surrogate and NUL replaced by U+FFFD, in strings and keys at any
    depth; the same object when there is nothing to replace."""
    if isinstance(value, str):
        return _BAD_CHARACTER.sub(REPLACEMENT, value) if _BAD_CHARACTER.search(value) else value
    if isinstance(value, dict):
        pairs = [(text_storable(k), text_storable(v)) for k, v in value.items()]
        if all(nk is k and nv is v for (nk, nv), (k, v) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    if isinstance(value, list):
        cleaned = [text_storable(v) for v in value]
        return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    return value


def _validation_error(problems: dict[str, list[str]]) -> ValidationError:
    return ValidationError([f"{path}: {' '.join(messages)}" for path, messages in problems.items()], code="unstorable")


class EncodableJSONFormField(forms.JSONField):
    """The admin's field: refuses what cannot be stored, and shows such input back as typed
    (escaped), since the page could not be encoded with the characters themselves in it."""

    def to_python(self, value):
        converted = super().to_python(value)
        problems = json_problems(converted)
        if problems:
            raise _validation_error(problems)
        return converted

    def prepare_value(self, value):
        if not isinstance(value, forms.fields.InvalidJSONInput) and text_storable(value) is not value:
            return json.dumps(value, cls=self.encoder)  # ASCII: \ud800 stays an escape
        return super().prepare_value(value)


class EncodableJSONField(models.JSONField):
    """A JSONField for untrusted content (item data, ratings, rubric scales).

    ``validate`` (run by model forms, so the admin, and by ``full_clean``) refuses what cannot be
    stored. A row written before that check existed may hold a lone surrogate (SQLite kept them
    in JSON text); it is read with U+FFFD in its place, so it renders and exports.

    The database column is an ordinary JSONField, and migrations record it as one.
    """

    def from_db_value(self, value, expression, connection):
        if isinstance(value, str) and _SUSPECT_ESCAPE.search(value):
            return text_storable(super().from_db_value(value, expression, connection))
        return super().from_db_value(value, expression, connection)

    def validate(self, value, model_instance):
        super().validate(value, model_instance)
        problems = json_problems(value)
        if problems:
            raise _validation_error(problems)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": EncodableJSONFormField, **kwargs})

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs

    if TYPE_CHECKING:  # on an instance the attribute is the value, as with Django's own fields

        def __get__(self, instance: Any, owner: Any) -> Any: ...
