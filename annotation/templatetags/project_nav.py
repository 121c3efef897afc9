"""The shared navigation bar: a project switcher, the project's pages the user's role allows,
and breadcrumbs. Every page whose context has a ``project`` shows it (templates/base.html).

Which section a page belongs to is read from its URL name, so a new page joins the bar by being
listed in ``_SECTION_OF`` rather than by each template passing its own crumbs.
"""

from dataclasses import dataclass

from django import template
from django.urls import NoReverseMatch, reverse

from annotation.models import Membership, Project, Role
from annotation.selectors import MANAGE, RATE, REVIEW, projects_for_user
from rubrics.models import Criterion

register = template.Library()


@dataclass(frozen=True)
class _Section:
    label: str
    url_name: str
    roles: frozenset[str]


SECTIONS = (
    _Section("Annotate", "annotate", RATE),
    _Section("Review", "review", REVIEW),
    _Section("Items", "project-items-page", REVIEW),
    _Section("Dashboard", "dashboard", REVIEW),
    _Section("Tasks", "tasks", REVIEW),
    _Section("Report", "report", REVIEW),
    _Section("Judges", "project-judges", REVIEW),
    _Section("Export", "project-export-page", MANAGE),
    _Section("Settings", "project-settings", MANAGE),
)

# Pages below a section (an item, a settings page) name the section they sit in and their own crumb.
_SECTION_OF = {
    "annotate-item": ("annotate", "Item"),
    "review-gold": ("review", "Item"),
    "project-item-page": ("project-items-page", "Item"),
    "project-judge-run": ("project-judges", "Run"),
    "judge-new": ("project-judges", "New judge"),
    "judge-edit": ("project-judges", "Judge"),
    "judge-test-page": ("project-judges", "Judge"),
    "project-policy-page": ("project-settings", "Approval policy"),
    "project-members": ("project-settings", "Members"),
    "project-rubric": ("project-settings", "Rubric"),
    "project-import": ("project-settings", "Import"),
    "project-import-job": ("project-settings", "Import"),
}


def _applies(section: _Section, project: Project, has_gates: bool) -> bool:
    # Tasks and Report exist only for projects they make sense in (as on the home page).
    if section.url_name == "tasks":
        return has_gates
    if section.url_name == "report":
        return bool(project.tasks_project_id)
    return True


@register.inclusion_tag("includes/project_nav.html", takes_context=True)
def project_nav(context) -> dict:
    request = context.get("request")
    project = context.get("project")
    if request is None or not isinstance(project, Project) or not request.user.is_authenticated:
        return {"show": False}
    user = request.user
    projects = list(projects_for_user(user=user).select_related(None).only("id", "name"))
    roles = (
        {p.pk: Role.MANAGER for p in projects}
        if user.is_staff
        else dict(Membership.objects.filter(user=user).values_list("project_id", "role"))
    )
    role = roles.get(project.pk)
    if role is None:
        return {"show": False}
    has_gates = Criterion.objects.filter(version_id=project.rubric_version_id, gate=True, scale__kind="binary").exists()
    url_name = request.resolver_match.url_name if request.resolver_match else ""
    current, leaf = _SECTION_OF.get(url_name, (url_name, ""))
    links = []
    for section in SECTIONS:
        if role in section.roles and _applies(section, project, has_gates):
            try:
                href = reverse(section.url_name, args=[project.pk])
            except NoReverseMatch:  # a page this deployment's URLconf does not route
                continue
            links.append({"label": section.label, "href": href, "current": section.url_name == current})
    here = next((link for link in links if link["current"]), None)
    # The switcher keeps you on the same page in the other project when your role there allows it.
    switch = []
    for other in projects:
        if other.pk == project.pk:
            continue
        target = "annotate"
        allowed = {s.url_name for s in SECTIONS if roles.get(other.pk) in s.roles}
        if current in allowed and current not in ("tasks", "report"):
            target = current
        try:
            href = reverse(target, args=[other.pk])
        except NoReverseMatch:
            href = reverse("annotate", args=[other.pk])
        switch.append({"name": other.name, "href": href})
    return {
        "show": True,
        "project": project,
        "role": role,
        "links": links,
        "switch": switch,
        "here": here,
        "leaf": context.get("crumb") or leaf,
    }
