"""The rubric builder pages through Django's test client: the API's permission rules, only the
fields of each scale kind, inline errors with nothing saved, the live preview, publish, new
version from a frozen one, the diff, and pinning a project with its confirmation."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from annotation.models import Role
from annotation.services.projects import membership_set
from rubrics.models import Rubric, RubricVersion


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def author(make_user):
    user = make_user("author")
    user.user_permissions.add(Permission.objects.get(codename="add_rubric"))
    return user


def card(uid, **fields):
    return {f"c-{uid}-{name}": value for name, value in fields.items()}


def three_criteria():
    data = {"name": "Answers", "instructions": "Rate the answer.", "uid": ["a", "b", "c"]}
    data |= card("a", title="Helpful", key="helpful", kind="ordinal", min="1", max="3", required="on",
                 rationale_required="on", **{"anchor-1": "Useless", "anchor-2": "Partly", "anchor-3": "Fully"},
                 choices="left over from another kind")  # fmt: skip
    data |= card("b", title="Correct", key="correct", kind="binary", label_true="No false claim", label_false="",
                 required="on", gate="on", min="7")  # fmt: skip
    data |= card("c", title="Tone", key="tone", kind="categorical", choices="ok\nrude\n\n", required="on")
    return data


def test_the_builder_follows_the_api_permission_rules(members, author):
    assert page_client(members["manager"]).get("/rubrics/new/").status_code == 403
    assert page_client(author).get("/rubrics/new/").status_code == 200
    assert page_client(members["manager"]).post("/rubrics/new/", three_criteria()).status_code == 403
    assert not Rubric.objects.exists() or not Rubric.objects.filter(name="Answers").exists()


def test_a_new_rubric_keeps_only_the_fields_of_each_kind(author):
    response = page_client(author).post("/rubrics/new/", three_criteria())
    version = RubricVersion.objects.get(rubric__name="Answers")
    assert response.status_code == 302 and response["Location"] == f"/rubrics/{version.rubric_id}/v/1/"
    criteria = {c.key: c for c in version.criteria.all()}
    assert [c.key for c in version.criteria.all()] == ["helpful", "correct", "tone"]
    assert criteria["helpful"].scale == {
        "kind": "ordinal", "min": 1, "max": 3, "labels": {"1": "Useless", "2": "Partly", "3": "Fully"},
    }  # fmt: skip
    assert criteria["helpful"].rationale_required is True
    assert criteria["correct"].scale == {"kind": "binary", "labels": {"true": "No false claim"}}
    assert criteria["correct"].gate is True
    assert criteria["tone"].scale == {"kind": "categorical", "choices": ["ok", "rude"]}
    assert version.published_at is None, "saved as a draft"


def test_errors_show_beside_their_fields_and_nothing_is_saved(author):
    data = three_criteria()
    data |= card("a", key="bad key", max="0") | card("c", gate="on", title="<script>alert(1)</script>")
    data["name"] = " "
    response = page_client(author).post("/rubrics/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "key must be a slug" in html and "Nothing was saved" in html
    assert 'id="name-errors"' in html, "the name's error shows even though the service never ran"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert not Rubric.objects.exists()


def test_the_preview_renders_the_annotator_form_and_each_cards_errors(author):
    data = three_criteria() | card("c", kind="ordinal", min="5", max="1")
    answer = page_client(author).post("/rubrics/preview/", data).json()
    assert 'name="value-helpful"' in answer["html"] and "Useless" in answer["html"]
    assert 'name="value-tone"' not in answer["html"], "a card with errors is left out of the preview"
    assert answer["errors"] == {"c": {"range": ["min must be less than max."]}}, "beside min and max"
    choices = page_client(author).post("/rubrics/preview/", three_criteria() | card("c", choices="only one")).json()
    assert choices["errors"]["c"]["choices"][0].startswith("a categorical scale needs choices")
    step = three_criteria() | card("b", kind="interval", min="0", max="1", step="5")
    assert "step" in page_client(author).post("/rubrics/preview/", step).json()["errors"]["b"]


def test_publish_freezes_and_a_new_version_starts_from_it(author, make_user):
    client = page_client(author)
    client.post("/rubrics/new/", three_criteria())
    rubric = Rubric.objects.get()
    base = f"/rubrics/{rubric.pk}/v/1/"
    assert 'name="c-' in client.get(base).content.decode(), "a draft is editable"
    assert client.post(f"{base}publish/").status_code == 302
    frozen = client.get(base).content.decode()
    assert 'name="c-' not in frozen and "New version from this" in frozen
    refused = client.post(base, three_criteria() | {"instructions": "changed"})
    assert refused.status_code == 302
    assert RubricVersion.objects.get(rubric=rubric, number=1).instructions == "Rate the answer."
    assert client.post(f"{base}copy/")["Location"] == f"/rubrics/{rubric.pk}/v/2/"
    data = three_criteria()
    data["uid"] = ["a", "c"]
    assert client.post(f"/rubrics/{rubric.pk}/v/2/", data).status_code == 302
    diff = client.get(f"/rubrics/{rubric.pk}/diff/", {"from": 1, "to": 2}).content.decode()
    assert 'data-change="removed"' in diff and "correct" in diff
    # Someone who is not the author cannot publish or copy.
    other = page_client(make_user("other"))
    assert other.post(f"/rubrics/{rubric.pk}/v/2/publish/").status_code == 404  # cannot even see it


def test_pinning_a_project_says_what_happens_to_existing_ratings(project, members, staff, items):
    from annotation.selectors import rater_for_user
    from annotation.services.ratings import rating_submit
    from rubrics.services import rubric_version_copy
    from tests.conftest import GOOD_RATIONALES, GOOD_VALUES

    rating_submit(item=items[0], rater=rater_for_user(user=members["annotator"]), values=GOOD_VALUES,
                  rationales=GOOD_RATIONALES)  # fmt: skip
    v2 = rubric_version_copy(actor=staff, version=project.rubric_version)
    client = page_client(members["manager"])
    url = f"/projects/{project.pk}/rubric/"
    assert page_client(members["annotator"]).get(url).status_code == 403
    confirm = client.get(url, {"version": v2.pk}).content.decode()
    assert "The 1 rating made under Quality v1 stays stored" in confirm and "annotators rate them again" in confirm
    project.refresh_from_db()
    assert project.rubric_version.number == 1, "asking changes nothing"
    assert client.post(url, {"version": v2.pk, "confirm": "yes"}).status_code == 302
    project.refresh_from_db()
    assert project.rubric_version == v2


def test_the_settings_hub_links_part_b_pages(project, members):
    membership_set(project=project, user=members["manager"], role=Role.MANAGER)
    html = page_client(members["manager"]).get(f"/projects/{project.pk}/settings/").content.decode()
    base = f"/projects/{project.pk}/"
    for href in (f"{base}rubric/", f"{base}members/", f"{base}import/", "/projects/new/"):
        assert f'href="{href}"' in html
