"""One page visit of the XSS sweep (tests/browser/test_xss_corpus.py): the path, who opens it, and
what is done there (xss_sweep.py carries the actions out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import resolve

# The route of the page a form action renders (the form's POST target), where it is not the path's.
ACTION_ROUTES = {
    "review-submit": "projects/<int:project_id>/review/<int:item_id>/",
}


@dataclass
class Visit:
    path: str
    user: str | None  # key of World.users, or None for anonymous
    # "" (just load) | "annotate-submit" | "review-submit" | "login-fail" | "form" (fill ``form``
    # with ``fill``, CSS selector -> value, and submit it) | "import-upload" | "builder-input"
    action: str = ""
    content_type: str = "text/html"
    statuses: tuple[int, ...] = (200,)
    form: str = ""
    fill: dict[str, str] = field(default_factory=dict)
    lands: str = ""  # the route of the page a "form" action renders, when its POST goes elsewhere

    @property
    def covers(self) -> str:
        """The route of the page the action renders, if not the path's (ACTION_ROUTES)."""
        return self.lands or ACTION_ROUTES.get(self.action, "")

    @property
    def route(self) -> str:
        return self.covers or route_of(self.path)


def route_of(path: str) -> str:
    return resolve(path.split("?", 1)[0]).route
