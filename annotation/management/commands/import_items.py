from django.core.management.base import BaseCommand

from annotation.management.commands._file_import import project_from_option, run_import
from annotation.services.items import items_import


class Command(BaseCommand):
    help = "Import items from a .jsonl, .json or .csv file into a project (idempotent on external_id; all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or name")
        parser.add_argument("path", help="a .jsonl, .json or .csv file")

    def handle(self, *args, project, path, **options):
        result = run_import(path=path, project=project_from_option(project), service=items_import, stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"created {result['created']}, updated {result['updated']}, unchanged {result['unchanged']}"
            )
        )
