"""The import page: upload items or existing ratings (drag and drop or a file input), preview the
first rows and the fields found, check every row (a dry run listing each bad row: line, field,
message), then import with a progress bar and a summary. Jobs run ``items_import`` /
``ratings_import`` (annotation/services/import_jobs.py): all or nothing, exactly as the API.

The page's script talks to the JSON endpoints below; each answers the job's state."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from annotation.models import ImportJob
from annotation.selectors import MANAGE
from annotation.services.import_jobs import import_job_create, import_job_start
from annotation.views.forms import project_get
from config.errors import Conflict, validation_errors


def job_state(job: ImportJob) -> dict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "file_name": job.file_name,
        "size": job.size,
        "status": job.status,
        "dry_run": job.dry_run,
        "phase": job.phase,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "preview": job.preview,
        "result": job.result,
        "errors": job.errors,
    }


@login_required
@require_GET
def import_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_get(request, project_id, MANAGE)
    recent = ImportJob.objects.filter(project=project).select_related("created_by").order_by("-id")[:10]
    criteria = list(project.rubric_version.criteria.all())
    return render(request, "annotation/import.html", {"project": project, "recent": recent, "criteria": criteria})


@login_required
@require_POST
def import_upload(request: HttpRequest, project_id: int) -> JsonResponse:
    project, _ = project_get(request, project_id, MANAGE)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"errors": {"file": ["choose a .jsonl or .csv file."]}}, status=400)
    try:
        job = import_job_create(
            project=project, actor=request.user, kind=request.POST.get("kind", ""), name=upload.name, stream=upload
        )
    except ValidationError as exc:
        return JsonResponse({"errors": validation_errors(exc)}, status=400)
    return JsonResponse(job_state(job), status=201)


def _job(request: HttpRequest, project_id: int, job_id: int) -> ImportJob:
    project, _ = project_get(request, project_id, MANAGE)
    return get_object_or_404(ImportJob, project=project, pk=job_id)


@login_required
@require_GET
def import_job(request: HttpRequest, project_id: int, job_id: int) -> JsonResponse:
    return JsonResponse(job_state(_job(request, project_id, job_id)))


@login_required
@require_POST
def import_job_go(request: HttpRequest, project_id: int, job_id: int, action: str) -> JsonResponse:
    """``action``: "check" (a dry run) or "run" (the import)."""
    if action not in {"check", "run"}:
        raise Http404("no such action.")
    job = _job(request, project_id, job_id)
    try:
        import_job_start(job=job, dry_run=action == "check")
    except Conflict as exc:
        return JsonResponse({"errors": {"non_field_errors": [exc.message]}}, status=409)
    job.refresh_from_db()
    return JsonResponse(job_state(job), status=202)
