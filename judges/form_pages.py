"""The judge form pages for a project's managers (no admin needed): add and edit a judge, test it
on one item (verdict or the provider's error), enable or disable it. Every change goes through
the same services as the API (judge_create, judge_update, judge_test), so the two never disagree;
the key variable is chosen among the names the operator offers (ACCORD_JUDGE_KEYS)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import Project
from annotation.selectors import MANAGE, project_require
from judges.endpoints import endpoint_problem, key_names
from judges.models import DEFAULT_MAX_CONCURRENCY, Judge, OutputMode, Provider
from judges.services.judges import DEFAULTS, judge_create, judge_update
from judges.services.testing import judge_test

# (field, label, kind, help): rendered in this order; kinds are the input's type.
FIELDS = [
    ("name", "Name", "text", "Shown with its version as the rater's name (\u201cGPT v2\u201d)."),
    ("provider", "Provider", "select", ""),
    ("model", "Model", "text", "As the server names it: gpt-4.1-mini, claude-sonnet-4-5, Qwen/Qwen2.5-7B-Instruct."),
    (
        "base_url",
        "Base URL",
        "url",
        "Blank for OpenAI or Anthropic themselves; a local server's /v1 URL otherwise. Only hosts the operator allows.",
    ),
    ("api_key_env", "API key", "select", "The server variable that holds the key; only those the operator offers."),
    ("temperature", "Temperature", "number", "0 to 2. At 0 an identical request is never sent twice."),
    ("max_output_tokens", "Max output tokens", "number", "16 to 64,000."),
    ("samples", "Samples per item", "number", "1 to 15 answers per item, aggregated (majority or median)."),
    ("few_shot", "Few-shot examples", "number", "0 to 20 items with gold or unanimous human ratings shown first."),
    ("output_mode", "Output mode", "select", "auto finds what the server accepts and remembers it."),
    (
        "max_concurrency",
        "Calls in flight",
        "number",
        "All workers together; blank for the provider's default (4 for a local server, 64 for OpenAI or Anthropic).",
    ),
    ("requests_per_minute", "Requests per minute", "number", "Blank: no limit."),
    ("tokens_per_minute", "Tokens per minute", "number", "Blank: no limit."),
    ("system_prompt", "Extra instructions", "textarea", "Added to the system prompt; the rubric is always there."),
]
_INTEGERS = {"max_output_tokens", "samples", "few_shot", "max_concurrency", "requests_per_minute", "tokens_per_minute"}
_NULLABLE = {"max_concurrency", "requests_per_minute", "tokens_per_minute"}


def _parsed(post) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The form's fields typed for the service; a number that is not one is an error on its field."""
    fields: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, _label, _kind, _help in FIELDS:
        raw = post.get(name, "").strip() if name != "system_prompt" else post.get(name, "")
        if name in _INTEGERS or name == "temperature":
            if raw == "":
                if name in _NULLABLE:
                    fields[name] = None
                continue
            try:
                fields[name] = float(raw) if name == "temperature" else int(raw)
            except ValueError:
                errors[name] = ["must be a number."]
            continue
        fields[name] = raw
    return fields, errors


def _choices() -> dict[str, list[tuple[str, str]]]:
    keys = [("", "none (a local server that needs no key)"), *((name, name) for name in key_names())]
    return {"provider": list(Provider.choices), "api_key_env": keys, "output_mode": list(OutputMode.choices)}


def _values(judge: Judge | None) -> dict[str, Any]:
    if judge is None:
        return {**DEFAULTS, "provider": Provider.OPENAI_COMPATIBLE, "name": "", "model": ""}
    version = judge.current_version()
    values = {name: getattr(version, name, None) for name, *_ in FIELDS}
    values.update({name: getattr(judge, name) for name, *_ in FIELDS if hasattr(judge, name)})
    return values


def _render(request, project, judge, values, errors, test=None, status=200) -> HttpResponse:
    problem = ""
    if judge is not None:
        version = judge.current_version()
        problem = endpoint_problem(provider=version.provider, base_url=version.base_url, api_key_env=judge.api_key_env)
    rows = [
        {"name": n, "label": label, "kind": kind, "help": help_text, "value": values.get(n),
         "errors": errors.get(n, []), "choices": _choices().get(n)}
        for n, label, kind, help_text in FIELDS
    ]  # fmt: skip
    context = {
        "project": project,
        "judge": judge,
        "rows": rows,
        "non_field_errors": [m for k, ms in errors.items() if k not in {n for n, *_ in FIELDS} for m in ms],
        "test": test,
        "problem": problem,
        "defaults": DEFAULT_MAX_CONCURRENCY,
    }
    return render(request, "judges/judge_form.html", context, status=status)


def _manager_project(request, project_id: int) -> Project:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    project_require(user=request.user, project=project, roles=MANAGE)
    return project


@login_required
@require_http_methods(["GET", "POST"])
def judge_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _manager_project(request, project_id)
    if request.method == "GET":
        return _render(request, project, None, _values(None), {})
    fields, errors = _parsed(request.POST)
    if not errors:
        try:
            judge = judge_create(actor=request.user, project=project, **fields)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, f"Judge {judge.name!r} added. Test it on one item before a run.")
            return redirect("judge-edit", project_id=project.pk, judge_id=judge.pk)
    return _render(request, project, None, {**_values(None), **request.POST.dict()}, errors, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def judge_edit(request: HttpRequest, project_id: int, judge_id: int) -> HttpResponse:
    project = _manager_project(request, project_id)
    judge = get_object_or_404(Judge, pk=judge_id, project=project)
    if request.method == "GET":
        return _render(request, project, judge, _values(judge), {})
    fields, errors = _parsed(request.POST)
    if not errors:
        try:
            judge_update(judge=judge, **fields)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, "Saved. A change to what decides a verdict made a new version.")
            return redirect("judge-edit", project_id=project.pk, judge_id=judge.pk)
    return _render(request, project, judge, {**_values(judge), **request.POST.dict()}, errors, status=400)


@login_required
@require_POST
def judge_test_page(request: HttpRequest, project_id: int, judge_id: int) -> HttpResponse:
    project = _manager_project(request, project_id)
    judge = get_object_or_404(Judge, pk=judge_id, project=project)
    try:
        result = judge_test(judge=judge)
    except ValidationError as exc:
        result = {"ok": False, "reason": " ".join(exc.messages)}
    else:
        result = result.as_dict()
    judge.refresh_from_db()
    criteria = list(project.rubric_version.criteria.all())
    values, rationales = result.get("values") or {}, result.get("rationales") or {}
    result["rows"] = [(c.key, values.get(c.key), rationales.get(c.key, "")) for c in criteria]
    return _render(request, project, judge, _values(judge), {}, test=result)


@login_required
@require_POST
def judge_toggle(request: HttpRequest, project_id: int, judge_id: int) -> HttpResponse:
    project = _manager_project(request, project_id)
    judge = get_object_or_404(Judge, pk=judge_id, project=project)
    judge_update(judge=judge, enabled=not judge.enabled)
    messages.success(request, f"{judge.name} is {'enabled' if not judge.enabled else 'disabled'}.")
    return redirect("judge-edit", project_id=project.pk, judge_id=judge.pk)
