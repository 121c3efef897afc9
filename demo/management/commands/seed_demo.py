from django.core.management.base import BaseCommand

from demo.summaries import DEMO_PROJECT, demo_seed


class Command(BaseCommand):
    help = "Load the demo projects (assistant answers; agentic tasks and traces). Skips what exists."

    def handle(self, *args, **options):
        created = demo_seed()
        if not created:
            self.stdout.write(f"Demo project {DEMO_PROJECT!r} is in place.")
            return
        self.stdout.write(self.style.SUCCESS(f"Loaded demo project {DEMO_PROJECT!r}. Demo users:"))
        for username, password in created:
            self.stdout.write(f"  {username} / {password}")
