"""Deterministic JSON-Schema -> example value generation for the fake LLM server.

Every value is derived from a SHA-256 of ``seed`` (the request's last user message, optionally plus
the model name) and the property's dotted path, so the same prompt always yields the same verdict and
different criteria in one request get independent-looking values.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

_WORDS = (
    "clear",
    "consistent",
    "partially",
    "supported",
    "evidence",
    "rubric",
    "criterion",
    "meets",
    "misses",
    "detail",
    "concise",
    "accurate",
)
_MAX_DEPTH = 12


def _unit(seed: str, path: str) -> float:
    """A deterministic float in [0, 1) for (seed, path)."""
    digest = hashlib.sha256(f"{seed}\x00{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _pick(seed: str, path: str, n: int) -> int:
    return min(int(_unit(seed, path) * n), n - 1)


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    """Follow local ``$ref`` pointers (``#/$defs/X``, ``#/definitions/X``)."""
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH:
        ref = schema["$ref"]
        if not ref.startswith("#"):
            return {}
        target: Any = root
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, dict) else {}
        # Sibling keywords next to $ref (allowed in 2019-09+) override the target's.
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings} if isinstance(target, dict) else target
        seen += 1
    return schema


def _type_of(schema: dict[str, Any]) -> str | None:
    t = schema.get("type")
    if isinstance(t, list):
        non_null = [x for x in t if x != "null"]
        return non_null[0] if non_null else "null"
    if t is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
    return t


def _string(seed: str, path: str, schema: dict[str, Any]) -> str:
    name = path.rsplit(".", 1)[-1] or "answer"
    tag = hashlib.sha256(f"{seed}\x00{path}".encode()).hexdigest()[:6]
    words = [_WORDS[_pick(seed, f"{path}#w{i}", len(_WORDS))] for i in range(4)]
    text = f"Fake rationale for {name}: {' '.join(words)} ({tag})."
    lo = int(schema.get("minLength", 0) or 0)
    hi = schema.get("maxLength")
    if len(text) < lo:
        text = text + "x" * (lo - len(text))
    if isinstance(hi, int) and len(text) > hi:
        text = text[:hi]
    return text


def _integer(seed: str, path: str, schema: dict[str, Any]) -> int:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        lo = math.floor(schema["exclusiveMinimum"]) + 1
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        hi = math.ceil(schema["exclusiveMaximum"]) - 1
    lo = math.ceil(lo) if lo is not None else (0 if hi is None or hi >= 0 else int(hi) - 10)
    hi = math.floor(hi) if hi is not None else lo + 10
    if hi < lo:
        return int(lo)
    return int(lo) + _pick(seed, path, int(hi) - int(lo) + 1)


def _number(seed: str, path: str, schema: dict[str, Any]) -> float:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    lo = float(lo) if lo is not None else (0.0 if hi is None or hi >= 0 else float(hi) - 1.0)
    hi = float(hi) if hi is not None else lo + 1.0
    if hi <= lo:
        return lo
    # Stay strictly inside the interval so exclusive bounds are respected too.
    value = round(lo + (hi - lo) * (0.05 + 0.9 * _unit(seed, path)), 3)
    return min(max(value, lo), hi)


def example_value(schema: Any, seed: str, path: str = "", root: Any = None, depth: int = 0) -> Any:
    """Return a value valid for ``schema`` (the common structured-output subset of JSON Schema)."""
    root = schema if root is None else root
    schema = _resolve(schema, root if isinstance(root, dict) else {})
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[_pick(seed, path, len(enum))]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            resolved = [_resolve(o, root) for o in options]
            non_null = [o for o in resolved if not (isinstance(o, dict) and o.get("type") == "null")]
            chosen = (non_null or resolved)[_pick(seed, f"{path}#{key}", len(non_null or resolved))]
            return example_value(chosen, seed, path, root, depth + 1)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in all_of:
            part = _resolve(part, root)
            if isinstance(part, dict):
                merged.setdefault("properties", {}).update(part.get("properties", {}))
                merged["required"] = [*merged.get("required", []), *part.get("required", [])]
                merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
        return example_value(merged, seed, path, root, depth + 1)

    kind = _type_of(schema)
    if kind == "object":
        props = schema.get("properties") or {}
        return {
            name: example_value(sub, seed, f"{path}.{name}" if path else name, root, depth + 1)
            for name, sub in props.items()
        }
    if kind == "array":
        lo = int(schema.get("minItems", 1) or 0)
        hi = schema.get("maxItems")
        count = max(lo, 1) if hi is None else min(max(lo, 1), int(hi))
        items = schema.get("items", {})
        return [example_value(items, seed, f"{path}[{i}]", root, depth + 1) for i in range(count)]
    if kind == "boolean":
        return _unit(seed, path) < 0.5
    if kind == "integer":
        return _integer(seed, path, schema)
    if kind == "number":
        return _number(seed, path, schema)
    if kind == "string":
        return _string(seed, path, schema)
    if kind == "null":
        return None
    return _string(seed, path, schema)
