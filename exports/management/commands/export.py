import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.models import Project
from exports.records import export_count
from exports.services import export_write
from exports.spec import FORMATS, export_spec_parse


class Command(BaseCommand):
    help = (
        "Export a project's items to a file (written atomically), with the same filters as "
        "GET /api/v1/projects/{id}/export/ and a progress bar on stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or name")
        parser.add_argument("output", help="file to write; replaced atomically when complete")
        parser.add_argument("--format", choices=FORMATS, help="default: jsonl, or the output file's extension")
        parser.add_argument("--status", help="comma-separated statuses or 'all' (default: approved)")
        parser.add_argument("--since", help="ISO 8601: only items decided at or after it")
        parser.add_argument("--include", help="ratings, judges, or ratings,judges")
        parser.add_argument("--reveal-raters", action="store_true", help="add rater names to ratings")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, project, output, **options):
        project = _project(project)
        path = Path(output)
        fmt = options["format"] or (path.suffix.lstrip(".") if path.suffix.lstrip(".") in FORMATS else "jsonl")
        params = {"format": fmt, "reveal_raters": options["reveal_raters"]}
        for name in ("status", "since", "include"):
            if options[name] is not None:
                params[name] = options[name]
        try:
            spec = export_spec_parse(params)
        except ValidationError as exc:
            raise CommandError("; ".join(f"--{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        total = export_count(project=project, spec=spec)
        with tqdm(total=total, unit="rec", file=sys.stderr, disable=options["no_progress"], desc="export") as bar:
            result = export_write(project=project, spec=spec, path=path, progress=bar.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"wrote {result['record_count']} records ({result['bytes']} bytes) to {path}; sha256 {result['sha256']}"
            )
        )


def _project(value: str) -> Project:
    projects = Project.objects.select_related("rubric_version")
    project = projects.filter(pk=int(value)).first() if value.isdigit() else projects.filter(name=value).first()
    if project is None:
        raise CommandError(f"no project {value!r} (give its id or exact name)")
    return project
