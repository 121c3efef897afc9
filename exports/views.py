"""The export page: choose a format and filters, start a snapshot (written by a worker, the same
``snapshot_create`` as POST /export/snapshots/), watch its progress, download it; past exports
with their manifest and checksum; and the REST call for the same export, ready to copy.

The form is parsed by ``export_spec_parse``, the API's own parser, so the page refuses exactly
what the API refuses, with each message beside its field.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from annotation.models import ItemStatus, Project
from annotation.selectors import MANAGE, project_require
from exports.encoders import parquet_available
from exports.models import ExportSnapshot
from exports.services import snapshot_create
from exports.spec import FORMATS, ExportSpec, export_spec_parse

RECENT = 20


def _form_params(post) -> dict:
    """The form's fields as the API's parameters (the names the API takes)."""
    statuses = post.getlist("status")
    params = {
        "format": post.get("format", "jsonl"),
        "status": "all" if "all" in statuses else ",".join(statuses),
        "include": ",".join(post.getlist("include")),
        "reveal_raters": "true" if post.get("reveal_raters") else "false",
    }
    if post.get("since", "").strip():
        params["since"] = post["since"].strip()
    return params


def _query(spec: ExportSpec) -> str:
    """The REST query string for ``spec``, parameters the API reads back to the same spec."""
    parts = [f"format={spec.format}", "status=" + (",".join(spec.statuses) or "all")]
    if spec.include:
        parts.append("include=" + ",".join(spec.include))
    if spec.since:
        parts.append("since=" + spec.since.isoformat().replace("+00:00", "Z"))
    if spec.reveal_raters:
        parts.append("reveal_raters=true")
    return "&".join(parts)


def _manifest(snapshot: ExportSnapshot) -> str:
    return json.dumps(
        {
            "snapshot": snapshot.pk,
            "project": snapshot.project_id,
            "format": snapshot.format,
            "filters": snapshot.params,
            "record_count": snapshot.record_count,
            "bytes": snapshot.size_bytes,
            "sha256": snapshot.sha256,
            "finished_at": snapshot.finished_at.isoformat() if snapshot.finished_at else None,
            "filename": snapshot.file_name(),
        },
        indent=2,
    )


@login_required
@require_http_methods(["GET", "POST"])
def export_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("rubric_version__rubric"), pk=project_id)
    project_require(user=request.user, project=project, roles=MANAGE)
    spec, errors, status = ExportSpec(), {}, 200
    posted = None
    if request.method == "GET" and request.GET:
        # The choices of the export just started (see the redirect below), so the form and the
        # snippets show them again; a hand-edited query that does not parse is ignored.
        try:
            spec = export_spec_parse(request.GET)
        except ValidationError:
            spec = ExportSpec()
    if request.method == "POST":
        posted = _form_params(request.POST)
        try:
            spec = export_spec_parse(posted)
            if spec.format == "parquet" and not parquet_available():
                raise ValidationError({"format": ["parquet needs pyarrow, which is not installed on this server."]})
        except ValidationError as exc:
            errors, status = exc.message_dict, 400
        else:
            snapshot = snapshot_create(project=project, spec=spec, actor=request.user)
            messages.success(request, f"Export {snapshot.pk} started: its progress shows below.")
            return redirect(reverse("project-export-page", args=[project.pk]) + "?" + _query(spec))
    snapshots = list(ExportSnapshot.objects.filter(project=project).order_by("-id")[:RECENT])
    origin = request.build_absolute_uri("/").rstrip("/")
    query = _query(spec)
    context = {
        "project": project,
        "formats": [(f, f != "parquet" or parquet_available()) for f in FORMATS],
        "statuses": ItemStatus.choices,
        "spec": spec,
        "chosen_statuses": set(spec.statuses) if not errors else set((posted or {}).get("status", "").split(",")),
        "since": (posted or {}).get("since", "") if errors else (spec.since.isoformat() if spec.since else ""),
        "errors": errors,
        "snapshots": [{"row": s, "manifest": _manifest(s)} for s in snapshots],
        "origin": origin,
        "query": query,
        "export_url": f"{origin}/api/v1/projects/{project.pk}/export/",
    }
    return render(request, "exports/export.html", context, status=status)
