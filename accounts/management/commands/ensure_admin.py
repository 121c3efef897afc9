import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the admin account once: from DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL when set, "
        "otherwise with a generated password that is printed and kept in var/credentials.txt."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        credentials = settings.VAR_DIR / "credentials.txt"
        if User.objects.filter(username=username).exists():
            where = f" (see {credentials})" if credentials.exists() else ""
            self.stdout.write(f"Admin {username!r} already exists{where}.")
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(
            username=username, email=os.environ.get("DJANGO_SUPERUSER_EMAIL", ""), password=password
        )
        if generated:
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            with credentials.open("a") as out:
                out.write(f"admin {username} {password}\n")
            credentials.chmod(0o600)
            self.stdout.write(
                self.style.SUCCESS(f"Created admin {username!r} with password {password!r} (kept in {credentials}).")
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Created admin {username!r} from DJANGO_SUPERUSER_* variables."))
