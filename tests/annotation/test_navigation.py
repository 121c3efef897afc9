"""The shared navigation bar, the settings hub and the admin's read-only decision fields."""

import re

import pytest
from django.test import Client

from annotation.models import ItemStatus, Role
from annotation.services.projects import membership_set, project_create


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<ul class="project-links">(.*?)</ul>', html, re.S)
    assert nav, "the page has the project navigation bar"
    return re.findall(r">([A-Za-z]+)</a></li>", nav.group(1))


def test_it_shows_each_role_the_sections_it_may_use(project, members):
    url = f"/projects/{project.pk}/annotate/"
    assert nav_links(page_client(members["annotator"]).get(url).content.decode()) == ["Annotate"]
    reviewer = nav_links(page_client(members["reviewer"]).get(url).content.decode())
    assert "Review" in reviewer and "Dashboard" in reviewer and "Judges" in reviewer
    assert "Export" not in reviewer and "Settings" not in reviewer
    manager = nav_links(page_client(members["manager"]).get(url).content.decode())
    assert manager[0] == "Annotate" and manager[-2:] == ["Export", "Settings"] and "Items" in manager
    assert "Tasks" not in manager, "no acceptance gates in this rubric, so no tasks page"


def test_it_marks_the_current_page_and_gives_breadcrumbs(project, members):
    html = page_client(members["manager"]).get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert re.search(r'href="/projects/\d+/dashboard/" aria-current="page" class="current">Dashboard', html)
    crumbs = re.search(r'<ol class="breadcrumbs".*?</ol>', html, re.S).group(0)
    assert "My projects" in crumbs and project.name in crumbs and "Dashboard" in crumbs


def test_it_switches_to_the_same_page_of_another_project(project, members, staff, rubric_version):
    other = project_create(actor=staff, name="Project <B>", rubric=rubric_version, annotations_per_item=2)
    membership_set(project=other, user=members["manager"], role=Role.ANNOTATOR)
    html = page_client(members["manager"]).get(f"/projects/{project.pk}/annotate/").content.decode()
    menu = re.search(r'<ul class="switcher-menu">(.*?)</ul>', html, re.S).group(1)
    assert f'href="/projects/{other.pk}/annotate/"' in menu
    assert "Project &lt;B&gt;" in menu, "project names are escaped"
    html = page_client(members["manager"]).get(f"/projects/{project.pk}/dashboard/").content.decode()
    menu = re.search(r'<ul class="switcher-menu">(.*?)</ul>', html, re.S).group(1)
    assert f'href="/projects/{other.pk}/annotate/"' in menu, "only an annotator there: no dashboard link"


def test_the_settings_hub_is_for_managers(project, members):
    url = f"/projects/{project.pk}/settings/"
    for who in ("annotator", "reviewer", "outsider"):
        assert page_client(members[who]).get(url).status_code == 403
    response = page_client(members["manager"]).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/projects/{project.pk}/judges/"' in html
    assert "Part B of issue 17" in html or "settings-pages" in html


@pytest.mark.django_db
def test_the_admin_cannot_set_an_item_decision(items, django_user_model):
    item = items[0]
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    client = page_client(admin)
    page = client.get(f"/admin/annotation/item/{item.pk}/change/").content.decode()
    assert 'name="status"' not in page and 'name="approved_by"' not in page and 'name="consensus"' not in page
    response = client.post(
        f"/admin/annotation/item/{item.pk}/change/",
        {
            "project": item.project_id,
            "external_id": item.external_id,
            "data": '{"prompt": "p0", "response": "r0"}',
            "metadata": "{}",
            "status": ItemStatus.APPROVED,
            "approved_by": "reviewer",
            "consensus": '{"helpfulness": 5}',
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING and item.approved_by == "" and item.consensus == {}
