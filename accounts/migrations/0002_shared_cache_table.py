from django.core.management import call_command
from django.db import migrations


def cache_table_create(apps, schema_editor):
    """The database cache's table (settings.CACHES without CACHE_URL): the sign-in and reset
    counters live there, shared by every web process. Nothing to do when the cache is Redis."""
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_hashed_api_tokens_and_user_sessions")]

    operations = [migrations.RunPython(cache_table_create, migrations.RunPython.noop, elidable=True)]
