"""The manager's side of the hostile world of tests/browser/test_xss_corpus.py (xss_world.py builds
the rest): invitations, an external rater, an import job with bad rows, draft rubric versions, a
review request, a finished export. Everything through the services the pages and the API call,
except where a column can hold what no service writes (said where it happens)."""

from __future__ import annotations

import io
import json

from django.contrib.auth.models import Permission
from django.utils import timezone

from annotation.models import Item, ItemStatus, Rating
from annotation.services.import_jobs import import_job_create, import_job_start
from annotation.services.members import invitation_create
from annotation.services.rating_imports import MAX_RATER_NAME, ratings_import
from exports.models import ExportSnapshot
from quality.selectors.policy import policy_for
from quality.services.approval import item_send_to_review
from rubrics.services import rubric_create, rubric_update
from tests.browser.xss_payloads import PAYLOADS, Corpus


def _criteria_v2(c: Corpus, version) -> list[dict]:
    """The hostile rubric's criteria, changed: new titles, anchors and choices, one criterion gone
    and one added, so the diff page has every kind of change to show."""
    out = []
    for criterion in version.criteria.exclude(key="cost"):
        scale = dict(criterion.scale)
        if scale["kind"] == "ordinal":
            scale["labels"] = {str(n): c.text(f"v2.anchor.{n}") for n in range(scale["min"], scale["max"] + 1)}
        if scale["kind"] == "categorical":
            scale = {"kind": "categorical", "choices": [c.one("v2.choice", i) for i in range(len(PAYLOADS))]}
        out.append(
            {
                "key": criterion.key,
                "title": c.text(f"v2.title.{criterion.key}", limit=200, markdown=False),
                "description": c.text(f"v2.description.{criterion.key}"),
                "scale": scale,
                "required": criterion.required,
                "rationale_required": criterion.rationale_required,
                "gate": criterion.gate,
            }
        )
    out.append(
        {
            "key": "added",
            "title": c.text("v2.title.added", limit=200, markdown=False),
            "scale": {
                "kind": "binary",
                "labels": {"true": c.text("v2.anchor.true"), "false": c.text("v2.anchor.false")},
            },
            "required": False,
        }
    )
    return out


def _own_rubric(c: Corpus, manager):
    """A draft of the (non-staff) manager's own: the builder page, editable, as they see it."""
    return rubric_create(
        actor=manager,
        name=c.text("own_rubric.name", limit=200, markdown=False),
        instructions=c.text("own_rubric.instructions"),
        criteria=[
            {
                "key": "fine",
                "title": c.text("own.title.fine", limit=200, markdown=False),
                "description": c.text("own.description.fine"),
                "scale": {"kind": "ordinal", "min": 1, "max": 3, "labels": {"2": c.text("own.anchor.2")}},
                "rationale_required": True,
            },
            {
                "key": "kind",
                "title": "Kind",
                "scale": {"kind": "categorical", "choices": [c.one("own.choice", i) for i in (0, 1, 4, 5, 9)]},
            },
            {
                "key": "ok",
                "title": "OK",
                "scale": {"kind": "binary", "labels": {"true": c.text("own.anchor.true")}},
                "gate": True,
            },
            {
                "key": "cost",
                "title": "Cost",
                "required": False,
                "scale": {"kind": "ratio", "unit": c.one("own.unit", 4)},
            },
        ],
    )


def _import_job(c: Corpus, *, project, manager, external_id: str):
    """A ratings file with a hostile name whose every row is refused with hostile text in its
    message (unknown field names, item ids, rater names): the job the import page lists."""
    rows = [
        {"external_id": c.text("import_row.external_id", limit=200, markdown=False), "rater": "x", "values": {}},
        {"external_id": external_id, "rater": "y" * (MAX_RATER_NAME + 1), c.one("import_row.field", 4): 1},
        {"external_id": external_id, "rater": c.one("import_row.rater", 1), "values": {c.one("import_row.key", 5): 1}},
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows) + c.one("import_row.unreadable", 0) + "\n"
    job = import_job_create(
        project=project,
        actor=manager,
        kind="ratings",
        name=c.text("import.file_name", limit=240, markdown=False) + ".jsonl",
        stream=io.BytesIO(body.encode()),
    )
    return import_job_start(job=job, dry_run=True)


# Payloads a file name can carry through a multipart upload (no slash: the name's basename is
# kept; no line break), the template one among them.
_FILE_NAME_PAYLOADS = (1, 2, 4, 5, 13, 17, 25)


def _upload_file(c: Corpus, *, external_id: str) -> dict:
    """A ratings file for the import page's upload: hostile name, every row refused with hostile
    text in its message, one line unreadable."""
    rows = [
        {"external_id": c.text("upload.external_id", limit=200, markdown=False), "rater": "x", "values": {}},
        {"external_id": external_id, "rater": c.one("upload.rater", 5), c.one("upload.field", 1): 1},
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows) + c.one("upload.unreadable", 2) + "\n"
    name = " ".join(c.one("upload.file_name", i) for i in _FILE_NAME_PAYLOADS) + ".jsonl"
    return {"name": name, "mimeType": "application/x-ndjson", "buffer": body.encode()}


def manage_world_build(c: Corpus, *, users: dict, tasks, traces, version, items: dict) -> dict:
    """The extra objects of the manager's pages; returns their ids for the visits."""
    manager, outsider = users["manager"], users["outsider"]
    # A non-staff manager who may create projects and rubrics (the new-project and builder pages).
    manager.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["add_project", "add_rubric"], content_type__app_label__in=["annotation", "rubrics"]
        )
    )
    # Invitations to the outsider: to their account and to their e-mail, from the hostile manager,
    # to projects with hostile names (their /invitations/ page and the members page list them).
    invitation = invitation_create(project=tasks, actor=manager, invitee=outsider.get_username(), role="reviewer")
    invitation_create(project=traces, actor=manager, invitee=outsider.email, role="annotator")

    # An external rater with a hostile name: imported historical labels on the disputed item.
    disputed = items["disputed"]
    ratings_import(
        project=tasks,
        rows=[
            {
                "external_id": disputed.external_id,
                "rater": c.text("external_rater.name", limit=MAX_RATER_NAME, markdown=False),
                "values": {"works": True, "quality": 2, "notes": c.text("external_rating.text_value")},
                "rationales": {"quality": c.text("external_rating.rationale")},
            }
        ],
    )
    item_send_to_review(item=disputed, actor=users["reviewer"], reason=c.text("review_request.reason"))
    Item.objects.filter(pk=disputed.pk).update(status=ItemStatus.NEEDS_REVIEW)

    job = _import_job(c, project=tasks, manager=manager, external_id=disputed.external_id)
    assert job.status == "rejected", (job.status, job.errors)

    # Version 2 of the hostile rubric, a draft (version 1 is frozen by its ratings): the diff page,
    # the pin page's confirmation, the builder as staff and read-only as the manager.
    v2 = rubric_update(actor=users["staff"], rubric=version.rubric, criteria=_criteria_v2(c, version))
    assert v2.number == 2 and not v2.is_frozen(), v2
    own = _own_rubric(c, manager)

    # A finished export whose filters hold hostile text (a row the API's parser would refuse,
    # written straight to the table: the page shows what the column holds).
    done = ExportSnapshot.objects.create(
        project=tasks,
        requested_by=manager,
        format="jsonl",
        params={"status": [c.one("export.params", 1)], "include": [c.one("export.params", 4)]},
        status="done",
        record_count=5,
        size_bytes=1234,
        sha256="0" * 64,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    # The judge's verdict gets a confidence and a distribution, so the dashboard draws its
    # estimate and the routing trade-off (the judge's hostile name is their legend).
    Rating.objects.filter(rater__kind="judge", item=disputed).update(
        confidence=0.8, distribution={"works": {"true": 0.8, "false": 0.2}}
    )
    upload = _upload_file(c, external_id=items["open"].external_id)  # uploaded in the browser
    _posterior_fit(c, project=tasks, version=version)
    return {"upload": upload, "invitation": invitation, "job": job, "v2": v2, "own_rubric": own, "export_done": done}


def _posterior_fit(c: Corpus, *, project, version) -> None:
    """A stored posterior fit that left two slices to people, named by the items' hostile
    metadata (the policy page lists them), and the same slices flagged with the routing threshold
    (the dashboard lists them). Written straight to the policy: a real fit needs gold and a
    calibrated judge, and the pages show what the columns hold."""
    policy = policy_for(project=project)
    slices = [
        {"slice": c.text(f"item{n}.metadata", markdown=False), "overconfident": True, "mean_confidence": 0.97,
         "accuracy": {"value": 0.4, "successes": 4, "total": 10, "ci": [0.15, 0.7]}}
        for n in range(2)
    ]  # fmt: skip
    criteria = {"works": {"accuracy": {"1": 0.9}, "ratings": 10, "slices": slices,
                          "excluded_slices": [s["slice"] for s in slices]}}  # fmt: skip
    policy.slice_by = "note"
    fitted_at = timezone.now().isoformat()
    policy.posterior_model = {"fitted_at": fitted_at, "rubric_version": version.pk, "slice_by": "note",
                              "gold_items": 10, "human_ratings": 10, "criteria": criteria}  # fmt: skip
    policy.routing_slices = {"slice_by": "note", "slices": slices, "excluded_slices": [s["slice"] for s in slices]}
    policy.save(update_fields=["slice_by", "posterior_model", "routing_slices"])
