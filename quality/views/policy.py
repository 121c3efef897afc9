"""The approval policy page: the thresholds, what each does to each criterion, and a preview of
what a change would do (quality/services/policy_preview.py) before it is saved (policy_update,
the service the REST API calls). A refused form answers 400 with each field's message beside it
and saves nothing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from annotation.models import ItemStatus, Project
from annotation.selectors import MANAGE, project_require
from quality.selectors.policy import policy_for
from quality.selectors.posterior import posterior_fit_status, posterior_fit_summary
from quality.services.approval import Decided
from quality.services.policy import policy_changes_apply, policy_update
from quality.services.policy_preview import policy_preview
from quality.stopping import posterior_fit_pending
from rubrics.scales import ScaleKind

FIELDS = {
    "majority_threshold": (
        "Majority for yes/no and choice criteria",
        "The share of raters that must give the same answer for it to be the consensus: 0.67 means two of "
        "three. Below it, the item goes to review.",
    ),
    "numeric_tolerance": (
        "Tolerance for scored criteria",
        "The largest spread between raters' scores that still counts as agreement, as a share of the scale's "
        "range: 0.25 on a 1 to 5 scale allows one point. Wider, and the item goes to review.",
    ),
    "judge_may_approve": (
        "A trusted judge may approve",
        "When on, an item no person has rated is approved on the verdict of a judge trusted on every scored "
        "criterion. When off, judges inform but never decide.",
    ),
    "trust_margin": (
        "Trust margin",
        "A judge is trusted on a criterion when its agreement with the people (alpha) is at least the "
        "people's own alpha minus this margin.",
    ),
    "trust_min_items": (
        "Items before trust",
        "How many items a judge must be measured on before it can be trusted at all.",
    ),
    "stopping_rule": (
        "When to stop asking for ratings (adaptive overlap)",
        "Raters agree: one more rating while they disagree. Posterior: one more while the most probable label, "
        "given the judge's verdict calibrated on gold and each rater's measured accuracy, is less likely than "
        "the target. Applies when the project sets a minimum overlap.",
    ),
    "stopping_target": (
        "Target probability (posterior rule)",
        "How sure the label must be, e.g. 0.95. Blank: the target fitted to match fixed overlap's accuracy.",
    ),
    "slice_by": (
        "Slices (posterior rule, judge-first threshold)",
        "An item metadata key, e.g. source: on each of its values the fit and the choice of the judge-first "
        "threshold check on gold that the judge is not confidently wrong; a flagged slice is left to people. "
        "Blank: no check. Takes effect at the next fit or choice of the threshold.",
    ),
    "audit_labelled_by": (
        "Who labels the audit sample",
        "The audit's gold always comes from a reviewer; the choice is whether people rate its items first.",
    ),
}

# One line per choice of audit_labelled_by, shown beside its radio button.
AUDIT_CHOICES = [
    ("people", "People, then a reviewer", "people rate each audited item first, then a reviewer sets its gold: "
     "the audit also measures the raters against gold (needed to fit the posterior rule's rater accuracies)."),
    ("minimum", "The minimum of people, then a reviewer", "as many people as the project's minimum overlap "
     "(one under adaptive overlap 1-N) rate each audited item, then a reviewer sets its gold: the raters are "
     "still measured against gold, for fewer ratings than letting the stopping rule run first."),
    ("reviewer", "A reviewer only", "audited items go straight to review and people never see them: cheaper, "
     "but the audit then says nothing about the raters."),
]  # fmt: skip


def _parse(post, project: Project) -> tuple[dict, dict]:
    """The posted values, typed; a value that is not a number at all is refused here, the ranges
    by the service (so the page and the API give the same messages). A criterion's own
    threshold left blank means the project-wide one."""
    values, errors = {}, {}
    own = {}
    for c in project.rubric_version.criteria.all():
        raw = post.get(f"own-{c.key}", "").strip()
        if c.agreement_level is None or not raw:
            continue
        try:
            own[c.key] = float(raw)
        except ValueError:
            errors[f"per_criterion.{c.key}"] = ["must be a number, or blank for the project-wide value."]
    values["per_criterion"] = own
    for name in ("majority_threshold", "numeric_tolerance", "trust_margin"):
        try:
            values[name] = float(post.get(name, "").strip())
        except ValueError:
            errors[name] = ["must be a number."]
    try:
        values["trust_min_items"] = int(post.get("trust_min_items", "").strip())
    except ValueError:
        errors["trust_min_items"] = ["must be a whole number."]
    values["judge_may_approve"] = post.get("judge_may_approve") == "on"
    if "stopping_rule" in post:
        values["stopping_rule"] = post.get("stopping_rule", "")
    if "slice_by" in post:
        values["slice_by"] = post.get("slice_by", "").strip()
    if "audit_labelled_by" in post:
        values["audit_labelled_by"] = post.get("audit_labelled_by", "")
    if "stopping_target" in post:
        raw = post.get("stopping_target", "").strip()
        try:
            values["stopping_target"] = float(raw) if raw else None
        except ValueError:
            errors["stopping_target"] = ["must be a number, or blank for the fitted target."]
    return values, errors


def _criteria_rules(project: Project, values: dict, typed: dict, errors: dict) -> list[dict]:
    """What the thresholds mean for each criterion of the project's rubric, in words, with the
    criterion's own threshold (as typed) and its error, if any."""
    rows = []
    own = values.get("per_criterion") or {}
    for c in project.rubric_version.criteria.all():
        kind = c.kind
        own_value = own.get(c.key)
        if kind in (ScaleKind.BINARY, ScaleKind.CATEGORICAL):
            share = own_value if own_value is not None else values.get("majority_threshold")
            rule = f"consensus when at least {share:.0%} of the raters give the same answer" if share else ""
        elif kind in (ScaleKind.ORDINAL, ScaleKind.INTERVAL):
            width = c.scale["max"] - c.scale["min"]
            tol = own_value if own_value is not None else values.get("numeric_tolerance")
            rule = (
                f"consensus (the median) when the scores are at most {tol * width:g} apart "
                f"on the {c.scale['min']:g} to {c.scale['max']:g} scale"
                if tol is not None
                else ""
            )
        elif kind == ScaleKind.RATIO:
            tol = own_value if own_value is not None else values.get("numeric_tolerance")
            rule = (
                f"consensus (the median) when the spread is at most {tol:.0%} of the scale's maximum (or median)"
                if tol is not None
                else ""
            )
        else:
            rule = "free text: never blocks approval and has no consensus"
        rows.append(
            {
                "criterion": c,
                "kind": kind,
                "rule": rule,
                "required": c.required,
                "scored": c.agreement_level is not None,
                "own": typed.get(c.key, "" if own_value is None else own_value),
                "errors": errors.get(f"per_criterion.{c.key}", []),
            }
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def policy_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    project_require(user=request.user, project=project, roles=MANAGE)
    policy = policy_for(project=project)
    values = {name: getattr(policy, name) for name in FIELDS}
    values["per_criterion"] = policy.per_criterion
    errors: dict = {}
    preview = None
    status = 200
    if request.method == "POST":
        values, errors = _parse(request.POST, project)
        if errors:
            # Check what did parse too, on a copy that is never saved, so every error shows at once.
            try:
                policy_changes_apply(policy=policy_for(project=project), changes=values)
            except ValidationError as exc:
                errors = {**exc.message_dict, **errors}
        else:
            try:
                if request.POST.get("action") == "save":
                    saved, decision = policy_update(project=project, **values)
                    if decision.outcome == Decided.QUEUED:
                        messages.success(request, "Policy saved. The items are being re-decided in the background.")
                    else:
                        messages.success(request, f"Policy saved: {decision.changed} item(s) changed decision.")
                    if posterior_fit_pending(policy=saved):
                        messages.info(request, "The posterior rule's model is being fitted on a worker; until it is "
                                      "stored, the agreement rule decides the items.")  # fmt: skip
                    return redirect("project-policy-page", project_id=project.pk)
                preview = policy_preview(project=project, changes=values)
            except ValidationError as exc:
                errors = exc.message_dict
        if errors:
            status = 400
    # Typed back into the form as the manager wrote them when they do not parse.
    shown = {name: request.POST.get(name, values.get(name)) if name in errors else values.get(name) for name in FIELDS}
    context = {
        "project": project,
        "fields": [
            {"name": name, "label": label, "help": help_text, "value": shown[name], "errors": errors.get(name, [])}
            for name, (label, help_text) in FIELDS.items()
        ],
        "rules": _criteria_rules(
            project,
            {} if errors else values,
            {k[4:]: v for k, v in request.POST.items() if k.startswith("own-")},
            errors,
        ),
        "preview": preview,
        "preview_rows": [
            {"label": label, "now": preview.now.get(value, 0), "after": preview.after.get(value, 0)}
            for value, label in ItemStatus.choices
        ]
        if preview
        else [],
        "errors": errors,
        "audit_choices": AUDIT_CHOICES,
        "audit_size": project.audit_size,
        "fit": posterior_fit_summary(policy=policy),
        "fit_state": posterior_fit_status(policy=policy),
        "policy": policy,
    }
    return render(request, "quality/policy.html", context, status=status)
