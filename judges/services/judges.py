"""Judge configuration. Changes that can change a verdict make a new, immutable JudgeVersion with
its own annotation.Rater; the rest (name, key variable, prices, rate limits) edit the Judge."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotation.models import Project, Rater, RaterKind
from judges.endpoints import base_url_check, key_check
from judges.models import Judge, JudgeVersion, OutputMode, Provider
from quality.models import JudgeRaterStatus

__all__ = ["base_url_check", "judge_config_clean", "judge_create", "judge_update"]

# Fields of JudgeVersion: changing any of them changes what the judge would answer.
VERSION_FIELDS = (
    "provider",
    "model",
    "base_url",
    "temperature",
    "max_output_tokens",
    "samples",
    "few_shot",
    "system_prompt",
)
JUDGE_FIELDS = (
    "name",
    "api_key_env",
    "price_input_per_mtok",
    "price_output_per_mtok",
    "requests_per_minute",
    "tokens_per_minute",
    "max_concurrency",
    "output_mode",
    "enabled",
)
DEFAULTS: dict[str, Any] = {
    "base_url": "",
    "temperature": 0.0,
    "max_output_tokens": 1024,
    "samples": 1,
    "few_shot": 0,
    "system_prompt": "",
    "api_key_env": "",
    "price_input_per_mtok": Decimal(0),
    "price_output_per_mtok": Decimal(0),
    "requests_per_minute": None,
    "tokens_per_minute": None,
    "max_concurrency": None,
    "output_mode": OutputMode.AUTO,
    "enabled": True,
}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_SAMPLES = 15
NOT_RUN_NOTE = "not run yet: start a run on the Judges page, or try one item first with its Test button."
MAX_FEW_SHOT = 20
MAX_OUTPUT_TOKENS = 64_000


def _int(value: Any, low: int, high: int, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"must be an integer from {low} to {high}.")
    return value


def judge_config_clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate every given field; errors keyed by field name. Unknown fields are refused."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    unknown = set(fields) - set(VERSION_FIELDS) - set(JUDGE_FIELDS)
    for key in sorted(unknown):
        errors[key] = ["unknown field."]
    for key, value in fields.items():
        if key in unknown:
            continue
        try:
            out[key] = _field_clean(key, value)
        except ValueError as exc:
            errors[key] = [str(exc)]
    if errors:
        raise ValidationError(errors)
    return out


def _field_clean(key: str, value: Any) -> Any:
    if key == "name":
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > 150:
            raise ValueError("name is required (at most 150 characters).")
        return value.strip()
    if key == "provider":
        if value not in Provider.values:
            raise ValueError(f"must be one of {', '.join(Provider.values)}.")
        return value
    if key == "model":
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise ValueError("model is required (at most 200 characters).")
        return value.strip()
    if key == "base_url":
        value = (value or "").strip() if isinstance(value, str | type(None)) else value
        if not isinstance(value, str):
            raise ValueError("must be a URL.")
        if value:
            base_url_check(value)
        return value.rstrip("/")
    if key == "api_key_env":
        value = value or ""
        if not isinstance(value, str) or (value and not ENV_NAME.match(value)):
            raise ValueError(
                "must be the NAME of an environment variable (letters, digits, _), such as OPENAI_API_KEY; "
                "never the key itself."
            )
        return value
    if key == "temperature":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= 2
        ):
            raise ValueError("must be a number from 0 to 2.")
        return float(value)
    if key == "max_output_tokens":
        return _int(value, 16, MAX_OUTPUT_TOKENS)
    if key == "samples":
        return _int(value, 1, MAX_SAMPLES)
    if key == "few_shot":
        return _int(value, 0, MAX_FEW_SHOT)
    if key == "system_prompt":
        if not isinstance(value, str | type(None)) or len(value or "") > 20_000:
            raise ValueError("must be text of at most 20,000 characters.")
        return (value or "").strip()
    if key in ("price_input_per_mtok", "price_output_per_mtok"):
        try:
            price = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise ValueError("must be a price in USD per million tokens.") from None
        if isinstance(value, bool) or not price.is_finite() or price < 0 or price >= 1_000_000:
            raise ValueError("must be a price in USD per million tokens, ≥ 0.")
        return price.quantize(Decimal("0.0001"))
    if key in ("requests_per_minute", "tokens_per_minute"):
        return _int(value, 1, 100_000_000, nullable=True)
    if key == "max_concurrency":
        return _int(value, 1, 1000, nullable=True)
    if key == "output_mode":
        if value not in OutputMode.values:
            raise ValueError(f"must be one of {', '.join(OutputMode.values)}.")
        return value
    if key == "enabled":
        if not isinstance(value, bool):
            raise ValueError("must be true or false.")
        return value
    raise ValueError("unknown field.")


def _requirements_check(config: dict[str, Any]) -> None:
    errors = {}
    if config["provider"] in (Provider.OPENAI, Provider.ANTHROPIC) and not config.get("api_key_env"):
        errors["api_key_env"] = [f"{config['provider']} needs the name of the environment variable holding its key."]
    if config["provider"] == Provider.OPENAI_COMPATIBLE and not config.get("base_url"):
        errors["base_url"] = ["an OpenAI-compatible server needs its base URL, e.g. http://127.0.0.1:11434/v1."]
    if config["provider"] == Provider.ANTHROPIC and config["output_mode"] not in (OutputMode.AUTO, OutputMode.TOOLS):
        errors["output_mode"] = ["an Anthropic judge answers through a forced tool call: use auto or tools."]
    if not errors:
        errors = key_check(api_key_env=config["api_key_env"], provider=config["provider"], base_url=config["base_url"])
    if errors:
        raise ValidationError(errors)


def _version_create(*, judge: Judge, number: int, config: dict[str, Any]) -> JudgeVersion:
    rater = Rater.objects.create(kind=RaterKind.JUDGE, user=None, name=f"{judge.name} v{number}", version=number)
    # Earlier versions stop speaking for the judge: only the current one is listed without verdicts.
    JudgeRaterStatus.objects.filter(rater__judge_version__judge=judge).update(note="")
    JudgeRaterStatus.objects.create(rater=rater, project_id=judge.project_id, note=NOT_RUN_NOTE)
    return JudgeVersion.objects.create(
        judge=judge, number=number, rater=rater, **{k: config[k] for k in VERSION_FIELDS}
    )


@transaction.atomic
def judge_create(*, actor: AbstractBaseUser | None, project: Project, **fields: Any) -> Judge:
    """Create a judge and its version 1 (with its Rater). Needs name, provider and model."""
    missing = {k: ["this field is required."] for k in ("name", "provider", "model") if k not in fields}
    config = {**DEFAULTS, **judge_config_clean(fields)}
    if missing:
        raise ValidationError(missing)
    _requirements_check(config)
    if Judge.objects.filter(project=project, name=config["name"]).exists():
        raise ValidationError({"name": ["this project already has a judge with this name."]})
    try:
        with transaction.atomic():
            judge = Judge.objects.create(project=project, created_by=actor, **{k: config[k] for k in JUDGE_FIELDS})
    except IntegrityError:
        raise ValidationError({"name": ["this project already has a judge with this name."]}) from None
    _version_create(judge=judge, number=1, config=config)
    return judge


@transaction.atomic
def judge_update(*, judge: Judge, **changes: Any) -> Judge:
    """Apply ``changes``; a new JudgeVersion (and Rater) only when a verdict-affecting field changes.

    A name change renames the judge's raters ("<name> v<n>") and makes no version.
    """
    judge = Judge.objects.select_for_update().get(pk=judge.pk)
    clean = judge_config_clean(changes)
    current = judge.current_version()
    config = {**{k: getattr(judge, k) for k in JUDGE_FIELDS}, **{k: getattr(current, k) for k in VERSION_FIELDS}}
    config.update(clean)
    _requirements_check(config)
    if (
        "name" in clean
        and clean["name"] != judge.name
        and Judge.objects.filter(project=judge.project_id, name=clean["name"]).exclude(pk=judge.pk).exists()
    ):
        raise ValidationError({"name": ["this project already has a judge with this name."]})
    for key in JUDGE_FIELDS:
        setattr(judge, key, config[key])
    judge.save()
    if "name" in clean:
        for version in judge.versions.select_related("rater"):
            Rater.objects.filter(pk=version.rater_id).update(name=f"{judge.name} v{version.number}")
    if any(config[k] != getattr(current, k) for k in ("provider", "model", "base_url")) or "output_mode" in clean:
        # Another server or model may accept other modes: "auto" looks again at the next call.
        judge.output_mode_found, judge.output_mode_note, judge.logprobs_refused = "", "", False
        judge.save(update_fields=["output_mode_found", "output_mode_note", "logprobs_refused"])
    if any(config[k] != getattr(current, k) for k in VERSION_FIELDS):
        _version_create(judge=judge, number=current.number + 1, config=config)
    return judge


def judge_output_mode_record(*, judge_id: int, mode: str, logprobs: bool, note: str) -> None:
    """Remember what "auto" found the judge's server accepts (a run's first call or the test
    action), so later calls start there; shown on the judge's form and in the API."""
    changes = {"output_mode_found": mode, "logprobs_refused": not logprobs}
    if note or not Judge.objects.filter(pk=judge_id, output_mode_found=mode).exists():
        changes["output_mode_note"] = note[:2000]  # a later call that found the same mode keeps the story
    Judge.objects.filter(pk=judge_id).update(**changes)
