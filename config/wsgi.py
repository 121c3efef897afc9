import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _warm() -> None:
    """Do at start what the first requests of a web process would otherwise pay for: the URL
    patterns (which import every view) and the query-parameter allow-list, built from the OpenAPI
    schema (config/query_params.py; about 0.3 s busy, over 0.5 s on a loaded machine, and about
    7 MB). Without this, the first API request with a query string of every process carried it:
    a 10,000-row export ran at 18,000 rows/s instead of 80,000 (docs/benchmarks.md, *Export*)."""
    from django.urls import get_resolver

    from config.query_params import documented_query_params

    get_resolver().url_patterns  # noqa: B018 (the import of every view module is the point)
    documented_query_params()


_warm()
