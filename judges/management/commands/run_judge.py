"""manage.py run_judge <project> <judge> [--items all|unjudged] [--wait]

Queues a judge run (workers do the calls) and, with --wait, shows a progress bar until it ends.
Project and judge may be given by id or by name.
"""

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.models import Project
from config.errors import Conflict
from judges.models import ACTIVE_STATUSES, Judge, JudgeRun, RunStatus
from judges.selectors import judge_run_problems, judge_run_progress
from judges.services.runs import judge_run_start


class Command(BaseCommand):
    help = "Start an LLM judge run on a project's items; --wait follows it with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or name")
        parser.add_argument("judge", help="judge id or name (within the project)")
        parser.add_argument("--items", choices=["all", "unjudged"], default="unjudged")
        parser.add_argument(
            "--mode", choices=["live", "batch"], default="live", help="batch: the provider's batch API (half price)"
        )
        parser.add_argument("--wait", action="store_true", help="poll the run and show a progress bar until it ends")
        parser.add_argument("--poll", type=float, default=0.5, help="seconds between polls with --wait")

    def handle(self, *args, project, judge, items, mode, wait, poll, **options):
        project_obj = _by_id_or_name(Project.objects.all(), project, "project")
        judge_obj = _by_id_or_name(Judge.objects.filter(project=project_obj), judge, "judge")
        try:
            run = judge_run_start(actor=None, project=project_obj, judge=judge_obj, items=items, mode=mode)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        except Conflict as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Judge run {run.pk} queued: {run.total} items, {run.chunks.count()} chunks.")
        if not wait:
            return
        with tqdm(total=run.total, unit="item", desc=f"run {run.pk}") as bar:
            while True:
                run = JudgeRun.objects.select_related("judge_version").get(pk=run.pk)
                progress = judge_run_progress(run=run)
                bar.n = progress.done + progress.failed + progress.no_verdict
                bar.set_postfix(
                    failed=progress.failed, no_verdict=progress.no_verdict, usd=f"{progress.cost_usd_estimate:.4f}"
                )
                bar.refresh()
                if run.status not in ACTIVE_STATUSES:
                    break
                time.sleep(poll)
        self.stdout.write(
            f"Run {run.pk} {run.status}: {progress.done} judged, {progress.failed} failed, "
            f"{progress.no_verdict} without verdict; {progress.input_tokens} + {progress.output_tokens} tokens, "
            f"≈ ${progress.cost_usd_estimate}."
        )
        for problem in judge_run_problems(run=run):
            self.stdout.write(f"  {problem['items']:>6} {problem['outcome']}: {problem['reason']}")
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run {run.pk} ended {run.status}{': ' + run.error if run.error else ''}")


def _by_id_or_name(queryset, value: str, what: str):
    found = queryset.filter(pk=int(value)).first() if value.isdigit() else None
    found = found or queryset.filter(name=value).first()
    if found is None:
        raise CommandError(f"no {what} {value!r}.")
    return found
