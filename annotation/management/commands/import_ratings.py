from django.core.management.base import BaseCommand

from annotation.management.commands._file_import import project_from_option, run_import
from annotation.services.rating_imports import ratings_import


class Command(BaseCommand):
    help = (
        "Import existing human ratings {external_id, rater, values, rationales?} from .jsonl or .json (all or nothing)."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or name")
        parser.add_argument("path", help="a .jsonl or .json file")

    def handle(self, *args, project, path, **options):
        result = run_import(path=path, project=project_from_option(project), service=ratings_import, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"created {result['created']}, unchanged {result['unchanged']}"))
