"""manage.py seed_demo_judge [--base-url URL]: the demo project's offline judge (demo/judge.py)."""

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from demo.judge import DEMO_LLM_URL, demo_judge_seed


class Command(BaseCommand):
    help = "Add an offline demo judge (the test suite's fake LLM server) to the demo project. Skips what exists."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=os.environ.get("ACCORD_DEMO_LLM_URL", DEMO_LLM_URL))

    def handle(self, *args, base_url, **options):
        try:
            judge = demo_judge_seed(base_url=base_url)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        if judge is None:
            self.stdout.write("Demo judge: in place (or no demo project).")
        else:
            self.stdout.write(self.style.SUCCESS(f"Added {judge.name!r} at {base_url} to the demo project."))
