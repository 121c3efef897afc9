"""The rubric builder: write a rubric's criteria with only the fields of each scale kind, see the
annotator's form as you type, save drafts, publish (freeze), start a new version from a frozen
one, compare two versions. Writes go through rubrics/services.py, as the REST API's do; the
permission rules are the API's (rubrics/selectors.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.errors import validation_errors
from rubrics.models import Criterion, Rubric, RubricVersion
from rubrics.scales import ScaleKind
from rubrics.selectors import (
    rubric_require_author,
    rubric_require_can_create,
    rubric_versions,
    rubric_versions_diff,
    rubrics_for_user,
)
from rubrics.services import rubric_create, rubric_update, rubric_version_copy, rubric_version_publish
from rubrics.templates import template_list
from rubrics.views.builder_form import card_of, cards_checked, criteria_from_post

_NEW_CARD = {
    "key": "",
    "title": "",
    "description": "",
    "scale": {"kind": "ordinal", "min": 1, "max": 5},
    "required": True,
    "rationale_required": False,
    "gate": False,
}


def _can_author(user, rubric: Rubric) -> bool:
    return user.is_staff or rubric.created_by_id == user.pk or user.has_perm("rubrics.change_rubric")


def _preview_html(definitions: list[dict]) -> str:
    criteria = [Criterion(**d) for d in definitions]
    return render_to_string("rubrics/criteria_form.html", {"criteria": criteria, "preview": True, "values": {}})


def _builder(request, *, rubric=None, version=None, cards, name, instructions, errors=None, status=200):
    _, valid, _ = cards_checked([{"uid": c["uid"], "definition": c["d"]} for c in cards])
    context = {
        "rubric": rubric,
        "version": version,
        "cards": cards,
        "blank": card_of("__uid__", _NEW_CARD),
        "name": name,
        "instructions": instructions,
        "errors": errors or {},
        "preview": _preview_html(valid),
        "templates": template_list() if rubric is None else [],
        "versions": list(rubric_versions(rubric=rubric)) if rubric else [],
        "scale_kinds": ScaleKind.choices,
    }
    return render(request, "rubrics/builder.html", context, status=status)


def _posted(request) -> tuple[list[dict], list[dict], bool, str, str]:
    cards, valid, ok = cards_checked(criteria_from_post(request.POST))
    return cards, valid, ok, request.POST.get("name", ""), request.POST.get("instructions", "")


def _unsaved(errors: dict, name: str) -> dict:
    """The page's errors when nothing was saved: the name's too (the service never ran if a card
    was wrong, so it did not say so), and the banner."""
    if not name.strip():
        errors.setdefault("name", ["name is required."])
    errors.setdefault("non_field_errors", []).append("Nothing was saved: fix the fields marked below.")
    return errors


@login_required
@require_GET
def rubric_list(request: HttpRequest) -> HttpResponse:
    rubrics = rubrics_for_user(user=request.user).prefetch_related("versions")
    can_create = request.user.is_staff or request.user.has_perm("rubrics.add_rubric")
    return render(
        request, "rubrics/list.html", {"rubrics": rubrics, "can_create": can_create, "templates": template_list()}
    )


@login_required
@require_http_methods(["GET", "POST"])
def rubric_new(request: HttpRequest) -> HttpResponse:
    rubric_require_can_create(user=request.user)
    if request.method == "GET":
        template = next((t for t in template_list() if t["key"] == request.GET.get("template")), None)
        if template is not None:
            cards = [card_of(f"t{i}", {**_NEW_CARD, **c}) for i, c in enumerate(template["criteria"])]
            return _builder(request, cards=cards, name=template["name"], instructions=template["instructions"])
        return _builder(request, cards=[card_of("n0", _NEW_CARD)], name="", instructions="")
    cards, valid, ok, name, instructions = _posted(request)
    errors: dict = {}
    if ok:
        try:
            version = rubric_create(actor=request.user, name=name, instructions=instructions, criteria=valid)
        except ValidationError as exc:
            errors = validation_errors(exc)
        else:
            messages.success(request, "Saved as a draft (version 1). Publish it when it is ready.")
            return redirect("rubric-version-page", rubric_id=version.rubric_id, number=version.number)
    errors = _unsaved(errors, name)
    return _builder(request, cards=cards, name=name, instructions=instructions, errors=errors, status=400)


def _version_of(request, rubric_id: int, number: int) -> RubricVersion:
    rubric = get_object_or_404(rubrics_for_user(user=request.user), pk=rubric_id)
    return get_object_or_404(rubric_versions(rubric=rubric).select_related("rubric"), number=number)


@login_required
@require_http_methods(["GET", "POST"])
def rubric_version_page(request: HttpRequest, rubric_id: int, number: int) -> HttpResponse:
    """A version: editable while it is the latest draft and you may author the rubric; read-only
    (with "new version from this") once frozen."""
    version = _version_of(request, rubric_id, number)
    rubric = version.rubric
    latest = rubric.latest_version()
    editable = version.pk == latest.pk and not version.is_frozen() and _can_author(request.user, rubric)
    if request.method == "GET":
        if not editable:
            return _read_only(request, version)
        cards = [card_of(f"v{c.pk}", _definition(c)) for c in version.criteria.all()]
        return _builder(
            request, rubric=rubric, version=version, cards=cards, name=rubric.name, instructions=version.instructions
        )
    rubric_require_author(user=request.user, rubric=rubric)
    if not editable:
        messages.error(request, "This version can no longer change; start a new version from it.")
        return redirect("rubric-version-page", rubric_id=rubric.pk, number=version.number)
    cards, valid, ok, name, instructions = _posted(request)
    errors: dict = {}
    if ok:
        try:
            saved = rubric_update(
                actor=request.user, rubric=rubric, name=name, instructions=instructions, criteria=valid
            )
        except ValidationError as exc:
            errors = validation_errors(exc)
        else:
            messages.success(request, f"Draft saved (version {saved.number}).")
            return redirect("rubric-version-page", rubric_id=rubric.pk, number=saved.number)
    errors = _unsaved(errors, name)
    return _builder(
        request,
        rubric=rubric,
        version=version,
        cards=cards,
        name=name,
        instructions=instructions,
        errors=errors,
        status=400,
    )


def _definition(criterion: Criterion) -> dict:
    return {
        "key": criterion.key,
        "title": criterion.title,
        "description": criterion.description,
        "scale": criterion.scale,
        "required": criterion.required,
        "rationale_required": criterion.rationale_required,
        "gate": criterion.gate,
    }


def _read_only(request, version: RubricVersion) -> HttpResponse:
    rubric = version.rubric
    criteria = list(version.criteria.all())
    context = {
        "rubric": rubric,
        "version": version,
        "criteria": criteria,
        "preview": render_to_string(
            "rubrics/criteria_form.html", {"criteria": criteria, "preview": True, "values": {}}
        ),
        "can_author": _can_author(request.user, rubric),
        "versions": list(rubric_versions(rubric=rubric)),
        "latest": rubric.latest_version(),
    }
    return render(request, "rubrics/version.html", context)


@login_required
@require_POST
def rubric_publish(request: HttpRequest, rubric_id: int, number: int) -> HttpResponse:
    version = _version_of(request, rubric_id, number)
    rubric_require_author(user=request.user, rubric=version.rubric)
    rubric_version_publish(actor=request.user, version=version)
    messages.success(request, f"Version {version.number} is published: it will not change again.")
    return redirect("rubric-version-page", rubric_id=rubric_id, number=number)


@login_required
@require_POST
def rubric_copy(request: HttpRequest, rubric_id: int, number: int) -> HttpResponse:
    version = _version_of(request, rubric_id, number)
    rubric_require_author(user=request.user, rubric=version.rubric)
    copy = rubric_version_copy(actor=request.user, version=version)
    messages.success(request, f"Version {copy.number} is a new draft copied from version {version.number}.")
    return redirect("rubric-version-page", rubric_id=rubric_id, number=copy.number)


@login_required
@require_GET
def rubric_diff(request: HttpRequest, rubric_id: int) -> HttpResponse:
    rubric = get_object_or_404(rubrics_for_user(user=request.user), pk=rubric_id)
    versions = list(rubric_versions(rubric=rubric))
    numbers = [v.number for v in versions]

    def chosen(name: str, default: int) -> int:
        try:
            value = int(request.GET.get(name, default))
        except ValueError:
            return default
        return value if value in numbers else default

    old_n = chosen("from", numbers[-2] if len(numbers) > 1 else numbers[0])
    new_n = chosen("to", numbers[-1])
    by_number = {v.number: v for v in versions}
    diff = rubric_versions_diff(old=by_number[old_n], new=by_number[new_n])
    context = {"rubric": rubric, "versions": versions, "old": old_n, "new": new_n, "diff": diff}
    return render(request, "rubrics/diff.html", context)


@login_required
@require_POST
def rubric_preview(request: HttpRequest) -> JsonResponse:
    """The annotator's form for the builder's current fields, and each card's errors by field."""
    cards, valid, _ = cards_checked(criteria_from_post(request.POST))
    return JsonResponse(
        {"html": _preview_html(valid), "errors": {card["uid"]: card["errors"] for card in cards if card["errors"]}}
    )
