"""Writes to rubrics. A rubric version that has ratings is never edited: changes make a new one."""

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from rubrics.models import Criterion, Rubric, RubricVersion
from rubrics.scales import scale_clean
from rubrics.selectors import criteria_forget

MAX_CRITERIA = 100


def criterion_clean(raw: Any, *, seen: set[str]) -> tuple[dict | None, dict[str, list[str]]]:
    """One criterion definition: ``(cleaned, {})`` or ``(None, errors by field)``. ``seen``: the
    keys of the criteria before it (a key used twice is an error of the second)."""
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        return None, {"non_field_errors": ["must be an object."]}
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        errors["key"] = ["key is required."]
    else:
        try:
            validate_slug(key)
        except ValidationError:
            errors["key"] = ["key must be a slug: letters, digits, hyphens and underscores."]
        if len(key) > 64:
            errors["key"] = ["key is at most 64 characters."]
        if key in seen:
            errors["key"] = [f"key {key!r} is used twice in this rubric."]
        seen.add(key)
    title = raw.get("title") or (key if isinstance(key, str) else "")
    if not isinstance(title, str) or len(title) > 200:
        errors["title"] = ["title must be text of at most 200 characters."]
    description = raw.get("description", "")
    if not isinstance(description, str):
        errors["description"] = ["description must be text."]
    flags = {}
    for flag, default in (("rationale_required", False), ("required", True), ("gate", False)):
        value = raw.get(flag, default)
        if not isinstance(value, bool):
            errors[flag] = [f"{flag} must be true or false."]
        flags[flag] = value
    try:
        scale = scale_clean(raw.get("scale"))
    except ValidationError as exc:
        errors["scale"] = exc.messages
        scale = None
    if flags["gate"] is True and scale is not None and scale.get("kind") != "binary":
        errors["gate"] = ["only a binary (yes/no) criterion can be an acceptance gate."]
    unknown = set(raw) - {"key", "title", "description", "scale", "rationale_required", "required", "gate"}
    if unknown:
        errors["non_field_errors"] = [f"unknown fields: {', '.join(sorted(unknown))}."]
    if errors:
        return None, errors
    return {"key": key, "title": title, "description": description, "scale": scale, **flags}, {}


def criteria_clean(criteria: Any) -> list[dict]:
    """Validate a list of criterion definitions; errors are keyed ``criteria`` → index → field."""
    if not isinstance(criteria, Sequence) or isinstance(criteria, str | bytes):
        raise ValidationError({"criteria": ["criteria must be a list."]})
    if not criteria:
        raise ValidationError({"criteria": ["a rubric needs at least one criterion."]})
    if len(criteria) > MAX_CRITERIA:
        raise ValidationError({"criteria": [f"a rubric has at most {MAX_CRITERIA} criteria."]})
    cleaned: list[dict] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(criteria):
        definition, errors = criterion_clean(raw, seen=seen)
        if errors and errors.get("non_field_errors") == ["must be an object."]:
            problems.append(f"criteria[{index}]: must be an object.")
            continue
        for field, messages in errors.items():
            problems.extend(f"criteria[{index}].{field}: {m}" for m in messages)
        if definition is not None:
            cleaned.append(definition)
    if problems:
        raise ValidationError({"criteria": problems})
    return cleaned


def _criteria_write(*, version: RubricVersion, criteria: list[dict]) -> None:
    Criterion.objects.bulk_create(
        Criterion(version=version, position=position, **definition) for position, definition in enumerate(criteria)
    )


def _criteria_as_dicts(version: RubricVersion) -> list[dict]:
    return [
        {
            "key": c.key,
            "title": c.title,
            "description": c.description,
            "scale": c.scale,
            "rationale_required": c.rationale_required,
            "required": c.required,
            "gate": c.gate,
        }
        for c in version.criteria.all()
    ]


@transaction.atomic
def rubric_create(*, actor: AbstractBaseUser | None, name: str, instructions: str = "", criteria: Any) -> RubricVersion:
    """Create a rubric and its version 1."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": ["name is required."]})
    cleaned = criteria_clean(criteria)
    rubric = Rubric.objects.create(name=name.strip(), created_by=actor)
    version = RubricVersion.objects.create(rubric=rubric, number=1, instructions=instructions, created_by=actor)
    _criteria_write(version=version, criteria=cleaned)
    return version


@transaction.atomic
def rubric_update(
    *,
    actor: AbstractBaseUser | None,
    rubric: Rubric,
    name: str | None = None,
    instructions: str | None = None,
    criteria: Any = None,
) -> RubricVersion:
    """Change a rubric. Returns the version that now carries the change.

    If the latest version is frozen (published, or has ratings), the change goes into a new version (ratings keep
    pointing at the one they were made against); otherwise the latest version is edited in
    place. Projects stay pinned to their version until a manager upgrades them.
    """
    rubric = Rubric.objects.select_for_update().get(pk=rubric.pk)
    latest = rubric.latest_version()
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError({"name": ["name cannot be empty."]})
        rubric.name = name.strip()
        rubric.save(update_fields=["name"])
    cleaned = criteria_clean(criteria) if criteria is not None else None
    new_instructions = instructions if instructions is not None else latest.instructions
    content_changes = new_instructions != latest.instructions or (
        cleaned is not None and cleaned != _criteria_as_dicts(latest)
    )
    if not content_changes:
        return latest
    if latest.is_frozen():
        version = RubricVersion.objects.create(
            rubric=rubric, number=latest.number + 1, instructions=new_instructions, created_by=actor
        )
        _criteria_write(version=version, criteria=cleaned if cleaned is not None else _criteria_as_dicts(latest))
        return version
    latest.instructions = new_instructions
    latest.save(update_fields=["instructions"])
    if cleaned is not None:
        latest.criteria.all().delete()
        _criteria_write(version=latest, criteria=cleaned)
        criteria_forget(version_id=latest.pk)  # had it been rated once (then its ratings deleted)
    return latest


@transaction.atomic
def rubric_version_copy(*, actor: AbstractBaseUser | None, version: RubricVersion) -> RubricVersion:
    """Start a new, editable version from an existing one (the admin's way to change a used rubric)."""
    rubric = Rubric.objects.select_for_update().get(pk=version.rubric_id)
    latest = rubric.latest_version()
    copy = RubricVersion.objects.create(
        rubric=rubric, number=latest.number + 1, instructions=version.instructions, created_by=actor
    )
    _criteria_write(version=copy, criteria=_criteria_as_dicts(version))
    return copy


@transaction.atomic
def rubric_version_publish(*, actor: AbstractBaseUser | None, version: RubricVersion) -> RubricVersion:
    """Freeze a version: from now on it never changes, and editing the rubric makes a new version.
    Publishing a published version changes nothing."""
    version = RubricVersion.objects.select_for_update().get(pk=version.pk)
    if version.published_at is None:
        version.published_at = timezone.now()
        version.save(update_fields=["published_at"])
    return version
