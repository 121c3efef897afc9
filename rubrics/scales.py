"""Rating scales: the one place where a scale definition and a value on it are validated.

The admin, the REST API, the annotator form, bulk imports and LLM judges all call
``scale_clean`` (is this a valid scale?) and ``values_clean`` (are these values valid on these
criteria?), so a value accepted anywhere is accepted everywhere.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.db import models

from config.untrusted import text_problem


class ScaleKind(models.TextChoices):
    BINARY = "binary", "Binary (yes / no)"
    CATEGORICAL = "categorical", "Categorical (one of a list)"
    ORDINAL = "ordinal", "Ordinal (integer points with anchors)"
    INTERVAL = "interval", "Interval (number in a range)"
    RATIO = "ratio", "Ratio (number ≥ 0)"
    TEXT = "text", "Free text"


# Krippendorff's level of measurement that fits each scale; text has no agreement.
AGREEMENT_LEVEL: dict[str, str | None] = {
    ScaleKind.BINARY: "nominal",
    ScaleKind.CATEGORICAL: "nominal",
    ScaleKind.ORDINAL: "ordinal",
    ScaleKind.INTERVAL: "interval",
    ScaleKind.RATIO: "ratio",
    ScaleKind.TEXT: None,
}

MAX_ORDINAL_POINTS = 101
MAX_TEXT_LENGTH = 20_000
MAX_RATIONALE_LENGTH = 20_000
# Interval and ratio values, and the numbers of a scale, are finite and at most this large in
# magnitude (exact integers in a double go to 2**53, about 9e15). A bound keeps every aggregate
# finite: squares and sums of a million of them stay far from float overflow (1.8e308).
MAX_NUMBER = 10**15

_ALLOWED_KEYS = {
    ScaleKind.BINARY: {"kind", "labels"},
    ScaleKind.CATEGORICAL: {"kind", "choices", "labels"},
    ScaleKind.ORDINAL: {"kind", "min", "max", "labels"},
    ScaleKind.INTERVAL: {"kind", "min", "max", "step", "labels"},
    ScaleKind.RATIO: {"kind", "max", "unit"},
    ScaleKind.TEXT: {"kind", "max_length"},
}


class CriterionLike(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def scale(self) -> dict: ...
    @property
    def rationale_required(self) -> bool: ...
    @property
    def required(self) -> bool: ...


@dataclass(frozen=True)
class CriterionSpec:
    """A criterion as plain data, for callers that have no model instance at hand."""

    key: str
    scale: dict
    rationale_required: bool = False
    required: bool = True


def _is_number(value: Any) -> bool:
    """A finite number within ±MAX_NUMBER (a 400-digit integer is a number Python cannot make a
    float of: it is refused here, not turned into an OverflowError)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return -MAX_NUMBER <= value <= MAX_NUMBER


def _shown(value: Any) -> str:
    if isinstance(value, int) and abs(value) > 10**30:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _labels_clean(labels: Any, *, allowed: Iterable[str] | None) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise ValidationError("labels must be an object mapping a scale point to its anchor sentence.")
    allowed_set = set(allowed) if allowed is not None else None
    out = {}
    for point, text in labels.items():
        point = str(point)
        if allowed_set is not None and point not in allowed_set:
            raise ValidationError(f"labels has an anchor for {point!r}, which is not a point of this scale.")
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"the anchor for {point!r} must be a non-empty sentence.")
        if problem := text_problem(text) or text_problem(point):
            raise ValidationError(f"the anchor for {point!r} {problem}")
        out[point] = text.strip()
    return out


def scale_clean(scale: Any) -> dict:
    """Validate a scale definition and return it normalised; raise ValidationError otherwise."""
    if not isinstance(scale, Mapping):
        raise ValidationError('scale must be an object such as {"kind": "binary"}.')
    kind = scale.get("kind")
    if kind not in ScaleKind.values:
        raise ValidationError(f"scale kind must be one of {', '.join(ScaleKind.values)}; got {kind!r}.")
    unknown = set(scale) - _ALLOWED_KEYS[kind]
    if unknown:
        raise ValidationError(f"a {kind} scale does not take {', '.join(sorted(unknown))}.")
    out: dict[str, Any] = {"kind": kind}

    if kind == ScaleKind.BINARY:
        out["labels"] = _labels_clean(scale.get("labels"), allowed={"true", "false"})
    elif kind == ScaleKind.CATEGORICAL:
        choices = scale.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            raise ValidationError("a categorical scale needs choices: a list of at least two strings.")
        if not all(isinstance(c, str) and c.strip() for c in choices):
            raise ValidationError("every choice must be a non-empty string.")
        if problem := next(filter(None, map(text_problem, choices)), None):
            raise ValidationError(f"a choice {problem}")
        cleaned = [c.strip() for c in choices]
        if len(set(cleaned)) != len(cleaned):
            raise ValidationError("choices must be unique.")
        out["choices"] = cleaned
        out["labels"] = _labels_clean(scale.get("labels"), allowed=cleaned)
    elif kind == ScaleKind.ORDINAL:
        lo, hi = scale.get("min"), scale.get("max")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)):
            raise ValidationError("an ordinal scale needs integer min and max.")
        if lo >= hi:
            raise ValidationError("min must be less than max.")
        if hi - lo + 1 > MAX_ORDINAL_POINTS:
            raise ValidationError(f"an ordinal scale has at most {MAX_ORDINAL_POINTS} points; use interval.")
        out.update(min=lo, max=hi)
        out["labels"] = _labels_clean(scale.get("labels"), allowed=[str(p) for p in range(lo, hi + 1)])
    elif kind == ScaleKind.INTERVAL:
        lo, hi, step = scale.get("min"), scale.get("max"), scale.get("step")
        if not (_is_number(lo) and _is_number(hi)):
            raise ValidationError(f"an interval scale needs numeric min and max, each within ±{MAX_NUMBER:.0e}.")
        if lo >= hi:
            raise ValidationError("min must be less than max.")
        out.update(min=lo, max=hi)
        if step is not None:
            if not _is_number(step) or step <= 0 or step > hi - lo:
                raise ValidationError("step must be a positive number no larger than max - min.")
            out["step"] = step
        out["labels"] = _labels_clean(scale.get("labels"), allowed=None)
    elif kind == ScaleKind.RATIO:
        hi = scale.get("max")
        if hi is not None:
            if not _is_number(hi) or hi <= 0:
                raise ValidationError(f"max must be a positive number no larger than {MAX_NUMBER:.0e}.")
            out["max"] = hi
        unit = scale.get("unit")
        if unit is not None:
            if not isinstance(unit, str):
                raise ValidationError("unit must be a string.")
            if problem := text_problem(unit):
                raise ValidationError(f"unit {problem}")
            out["unit"] = unit
    elif kind == ScaleKind.TEXT:
        max_length = scale.get("max_length", MAX_TEXT_LENGTH)
        if not isinstance(max_length, int) or isinstance(max_length, bool) or not 1 <= max_length <= MAX_TEXT_LENGTH:
            raise ValidationError(f"max_length must be an integer from 1 to {MAX_TEXT_LENGTH}.")
        out["max_length"] = max_length
    if "labels" in out and not out["labels"]:
        del out["labels"]
    return out


def value_clean(scale: Mapping, value: Any) -> Any:
    """Return ``value`` as stored for this scale, or raise ValidationError with a message for people."""
    kind = scale["kind"]
    if kind == ScaleKind.BINARY:
        if not isinstance(value, bool):
            raise ValidationError(f"expected true or false, got {_shown(value)}.")
        return value
    if kind == ScaleKind.CATEGORICAL:
        if not isinstance(value, str) or value not in scale["choices"]:
            raise ValidationError(f"expected one of {', '.join(scale['choices'])}; got {_shown(value)}.")
        return value
    if kind == ScaleKind.ORDINAL:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(f"expected an integer from {scale['min']} to {scale['max']}; got {_shown(value)}.")
        if not scale["min"] <= value <= scale["max"]:
            raise ValidationError(f"{_shown(value)} is outside the scale {scale['min']}..{scale['max']}.")
        return value
    if kind == ScaleKind.INTERVAL:
        if not _is_number(value):
            raise ValidationError(f"expected a number from {scale['min']} to {scale['max']}; got {_shown(value)}.")
        if not scale["min"] <= value <= scale["max"]:
            raise ValidationError(f"{value} is outside the scale {scale['min']}..{scale['max']}.")
        step = scale.get("step")
        if step:
            steps = (value - scale["min"]) / step
            if abs(steps - round(steps)) > 1e-9:
                raise ValidationError(f"{value} is not on a step of {step} from {scale['min']}.")
        return value
    if kind == ScaleKind.RATIO:
        if not _is_number(value) or value < 0:
            top = scale.get("max", MAX_NUMBER)
            raise ValidationError(f"expected a number from 0 to {top:g}; got {_shown(value)}.")
        if "max" in scale and value > scale["max"]:
            raise ValidationError(f"{value} is above the maximum {scale['max']}.")
        return value
    if kind == ScaleKind.TEXT:
        if not isinstance(value, str):
            raise ValidationError(f"expected text; got {_shown(value)}.")
        if problem := text_problem(value):
            raise ValidationError(f"text {problem}")
        if len(value) > scale.get("max_length", MAX_TEXT_LENGTH):
            raise ValidationError(f"text is longer than {scale.get('max_length', MAX_TEXT_LENGTH)} characters.")
        return value
    raise ValidationError(f"unknown scale kind {kind!r}.")


def values_clean(
    *, criteria: Iterable[CriterionLike], values: Any, rationales: Any = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate one rater's values and rationales against a rubric version's criteria.

    Raises ValidationError whose error dict is keyed by criterion key (plus ``values`` or
    ``rationales`` for problems with the whole object), so every client can point at the field.
    """
    criteria = list(criteria)
    if not isinstance(values, Mapping):
        raise ValidationError({"values": ["values must be an object mapping criterion keys to values."]})
    if rationales is None:
        rationales = {}
    if not isinstance(rationales, Mapping):
        raise ValidationError({"rationales": ["rationales must be an object mapping criterion keys to text."]})

    by_key = {c.key: c for c in criteria}
    errors: dict[str, list[str]] = {}
    for key in values:
        if key not in by_key:
            errors.setdefault(str(key), []).append("unknown criterion for this rubric version.")
    for key in rationales:
        if key not in by_key:
            errors.setdefault(str(key), []).append("rationale for an unknown criterion.")

    clean_values: dict[str, Any] = {}
    clean_rationales: dict[str, str] = {}
    for criterion in criteria:
        key = criterion.key
        value = values.get(key)
        rationale = rationales.get(key)
        if rationale is not None:
            if not isinstance(rationale, str):
                errors.setdefault(key, []).append("rationale must be text.")
                rationale = None
            elif len(rationale) > MAX_RATIONALE_LENGTH:
                errors.setdefault(key, []).append(f"rationale is longer than {MAX_RATIONALE_LENGTH} characters.")
                rationale = None
            elif problem := text_problem(rationale):
                errors.setdefault(key, []).append(f"rationale {problem}")
                rationale = None
            else:
                rationale = rationale.strip()
        if value is None or (criterion.scale["kind"] == ScaleKind.TEXT and value == ""):
            if criterion.required:
                errors.setdefault(key, []).append("this criterion is required.")
            continue
        try:
            clean_values[key] = value_clean(criterion.scale, value)
        except ValidationError as exc:
            errors.setdefault(key, []).extend(exc.messages)
            continue
        if criterion.rationale_required and not rationale:
            errors.setdefault(key, []).append("a rationale is required for this criterion.")
        if rationale:
            clean_rationales[key] = rationale
    if errors:
        raise ValidationError(errors)
    return clean_values, clean_rationales


# --- Codes: a value as the number that agreement and approval compute with ----------------
# ``value_code`` (Python, one value) and ``value_code_sql`` (SQL, a million ratings at once, so
# they never become Python dicts) are twins: tests/rubrics/test_scale_codes.py checks them
# against each other on PostgreSQL and on SQLite. Categories are coded by their position in
# ``choices``; text has no code.


def value_code(scale: Mapping, value: Any) -> float | None:
    """``value`` on ``scale`` as a number (None when absent, or not a point of the scale)."""
    if value is None:
        return None
    kind = scale["kind"]
    if kind == ScaleKind.BINARY:
        return 1.0 if value else 0.0
    if kind == ScaleKind.CATEGORICAL:
        choices = scale["choices"]
        return float(choices.index(value)) if value in choices else None
    if kind in (ScaleKind.ORDINAL, ScaleKind.INTERVAL, ScaleKind.RATIO):
        return number_bounded(value)
    return None


def number_bounded(value: int | float) -> float:
    """``value`` as a float clamped to ±MAX_NUMBER. Values are validated within that range; a
    row stored before the bound existed (1.7e308 was accepted) is clamped here and in SQL, so no
    aggregate over it overflows to infinity."""
    try:
        number = float(value)
    except OverflowError:
        number = math.copysign(math.inf, value)
    return max(-MAX_NUMBER, min(float(MAX_NUMBER), number))


def value_code_sql(scale: Mapping, key: str, *, column: str, vendor: str) -> tuple[str, list]:
    """SQL giving the code of criterion ``key``'s value in the JSON ``column`` (NULL when absent),
    and its parameters. ``vendor``: ``connection.vendor``, "postgresql" or "sqlite"."""
    postgres = vendor == "postgresql"
    text = f"({column} ->> %s)" if postgres else f"json_extract({column}, %s)"
    path = key if postgres else f'$."{key}"'
    kind = scale["kind"]
    if kind == ScaleKind.BINARY:
        if postgres:
            return f"(CASE {text} WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END)", [path]
        return f"(CASE json_type({column}, %s) WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END)", [path]
    if kind == ScaleKind.CATEGORICAL:
        choices = scale["choices"]
        whens = " ".join("WHEN %s THEN " + f"{i}.0" for i in range(len(choices)))
        return f"(CASE {text} {whens} END)", [path, *choices]
    if kind in (ScaleKind.ORDINAL, ScaleKind.INTERVAL, ScaleKind.RATIO):
        number = f"CAST({text} AS double precision)" if postgres else f"CAST({text} AS REAL)"
        # number_bounded's twin; CASE keeps NULL (absent) as NULL, where LEAST/GREATEST would not.
        bound = f"{MAX_NUMBER:.1f}"
        sql = f"(CASE WHEN {number} > {bound} THEN {bound} WHEN {number} < -{bound} THEN -{bound} ELSE {number} END)"
        return sql, [path, path, path]
    return "NULL", []


def scale_points(scale: Mapping, observed: Iterable[float] = ()) -> list[float] | None:
    """The codes of the scale's points (binary, categorical, ordinal) or its end points (interval,
    ratio: a ratio scale without a maximum ends at the largest ``observed`` code)."""
    kind = scale["kind"]
    if kind == ScaleKind.BINARY:
        return [0.0, 1.0]
    if kind == ScaleKind.CATEGORICAL:
        return [float(i) for i in range(len(scale["choices"]))]
    if kind == ScaleKind.ORDINAL:
        return [float(p) for p in range(scale["min"], scale["max"] + 1)]
    if kind == ScaleKind.INTERVAL:
        return [number_bounded(scale["min"]), number_bounded(scale["max"])]
    if kind == ScaleKind.RATIO:
        top = scale.get("max", max(observed, default=0.0))
        return [0.0, number_bounded(top)] if top > 0 else None
    return None


def code_label(scale: Mapping, code: float) -> str:
    """The words for a value code, as a reader wants them (confusion matrices): Yes / No, the
    choice's name, an ordinal point with its anchor sentence; other scales print the number."""
    kind = scale["kind"]
    labels = scale.get("labels", {})
    if kind == ScaleKind.BINARY:
        word, key = ("Yes", "true") if code >= 0.5 else ("No", "false")
        return f"{word} — {labels[key]}" if labels.get(key) else word
    if kind == ScaleKind.CATEGORICAL and 0 <= int(code) < len(scale["choices"]) and float(code).is_integer():
        return scale["choices"][int(code)]
    point = int(code) if float(code).is_integer() else code
    return f"{point} — {labels[str(point)]}" if labels.get(str(point)) else str(point)


def point_label(scale: Mapping, value: Any) -> str:
    """A value as the key of a distribution over the scale's points (Rating.distribution, a judge's
    log-probabilities): ``"true"`` / ``"false"``, the choice, the number as text (``"4"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and scale["kind"] == ScaleKind.ORDINAL:
        return str(int(value))
    return str(value)
