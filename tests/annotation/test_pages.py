"""The server-rendered pages through Django's test client: access, blindness, escaping, forms."""

import re
import time

import pytest
from django.test import Client

from annotation.models import Draft, Gold, Rater, RaterKind, Rating, Skip
from annotation.selectors import rater_for_user
from annotation.services.drafts import draft_save
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from annotation.templatetags.item_display import item_blocks, markdown_clean, markdown_filter
from tests.conftest import GOOD_RATIONALES, GOOD_VALUES

HOSTILE = {
    "prompt": "<script>window.__xss=1</script>",
    "response": 'Fine answer <img src=x onerror="window.__xss=1"> with **bold** and <script>window.__xss=2</script>',
    "context": "</textarea><script>window.__xss=3</script>",
}


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rate(user, item, values=None, rationales=None):
    return rating_submit(
        item=item,
        rater=rater_for_user(user=user),
        values=values or GOOD_VALUES,
        rationales=rationales or GOOD_RATIONALES,
    )


def test_it_sends_anonymous_visitors_to_the_login_page(project):
    client = Client()
    for url in ("/", f"/projects/{project.pk}/annotate/", f"/projects/{project.pk}/review/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.get("/accounts/login/").status_code == 200


def test_it_lists_my_projects_with_my_progress_and_the_projects(members, items, project):
    rate(members["annotator"], items[0])
    rate(members["annotator2"], items[0])
    rate(members["annotator2"], items[1])
    html = page_client(members["annotator"]).get("/").content.decode()
    assert project.name in html
    assert "1 / 5" in html, "rated by me: one of five"
    assert re.search(r'<progress class="bar bar-mine" max="5" value="1"', html)
    assert re.search(r'<progress class="bar bar-done" max="5" value="1"', html), "items[0] has its two ratings"
    assert f"/projects/{project.pk}/annotate/" in html
    assert f"/projects/{project.pk}/review/" not in html, "annotators get no review link"
    outsider_html = page_client(members["outsider"]).get("/").content.decode()
    assert project.name not in outsider_html


def leased(html: str) -> int:
    """The id of the item the annotate page shows (its form's hidden ``item`` field)."""
    return int(re.search(r'name="item" value="(\d+)"', html).group(1))


def test_it_shows_the_leased_item_with_a_form_from_the_rubric(members, items, project):
    response = page_client(members["annotator"]).get(f"/projects/{project.pk}/annotate/")
    assert response.status_code == 200
    html = response.content.decode()
    for key in ("helpfulness", "correct", "tone"):
        assert f'name="value-{key}"' in html
    assert 'name="rationale-helpfulness"' in html
    assert "Useless." in html, "anchors are visible"
    assert 'id="annotate-config" type="application/json"' in html
    assert "<script>" not in html.replace('<script id="annotate-config"', ""), "no inline scripts"
    item_id = leased(html)
    assert any(i.pk == item_id for i in items)
    assert f'action="/projects/{project.pk}/annotate/"' in html, "the form posts to the page's own URL"


def test_the_annotate_page_is_blind_to_other_raters(members, items, project):
    for item in items:
        rate(members["annotator2"], item, values={**GOOD_VALUES, "tone": "rude"}, rationales={"helpfulness": "SEEN-IT"})
    html = page_client(members["annotator"]).get(f"/projects/{project.pk}/annotate/").content.decode()
    assert "SEEN-IT" not in html
    assert "annotator2" not in html
    assert "checked" not in html, "nothing is preselected from someone else's rating"


def test_it_escapes_hostile_item_content(members, project):
    items_import(project=project, rows=[{"external_id": "evil", "data": HOSTILE}])
    html = page_client(members["annotator"]).get(f"/projects/{project.pk}/annotate/").content.decode()
    assert "evil" in html
    assert "<script>window.__xss" not in html
    assert "onerror" not in html.replace("onerror=&quot;", "").replace("&lt;img src=x onerror", "")
    assert "</textarea><script>" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html, "plain text is shown, escaped"
    assert "<strong>bold</strong>" in html, "Markdown is rendered"
    # The only <script> elements are the static files and the JSON island.
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/static/accord/' in tag or 'id="annotate-config"' in tag, tag


def test_it_sanitises_the_markdown_guidelines(members, items, project):
    project.guidelines = (
        "## Rules\n\n* Be **fair**\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1))\n\n"
        '<img src=x onerror="alert(1)"> <a href="https://example.org" onclick="alert(1)">ok</a>'
    )
    project.save()
    html = page_client(members["annotator"]).get(f"/projects/{project.pk}/annotate/").content.decode()
    assert "<h2>Rules</h2>" in html
    assert "<strong>fair</strong>" in html
    assert "alert(1)" not in html
    assert "javascript:" not in html
    assert 'href="https://example.org"' in html


def test_markdown_is_cleaned_and_keeps_only_language_classes():
    html = markdown_clean('```python\nprint("x")\n```\n\n<p class="evil" style="x">hi</p>', images=False)
    assert '<code class="language-python">' in html
    assert "evil" not in html and "style" not in html
    assert "<img" not in markdown_clean("![a](https://example.org/a.png)", images=False)


@pytest.mark.parametrize(
    "text",
    [
        "# x\n" + "[a" * 5_000,  # Python-Markdown is cubic in unmatched brackets
        "# x\n" + "- " * 5_000,  # and recurses once per nested list marker
        "# x\n" + "*a" * 20_000,
        "\n" * 50_000 + "def f():\n    pass",  # multiline sniffing must stay linear
        "x" * 200_000 + "\n# heading",
    ],
)
def test_hostile_text_renders_quickly_as_plain_text_or_markdown(text):
    started = time.monotonic()
    blocks = item_blocks({"response": text, "solution": text})
    markdown_filter(text)
    assert time.monotonic() - started < 3
    assert blocks[0].kind in {"text", "markdown", "code"}


def test_it_renders_items_by_shape():
    blocks = item_blocks(
        {
            "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Use `ls`."}],
            "trace": [
                {"kind": "thought", "content": "Look around."},
                {"kind": "tool_call", "name": "bash", "args": {"cmd": "ls"}},
                {"kind": "tool_output", "content": "x\n" * 200},
            ],
            "environment": "FROM python:3.12\nRUN pip install pytest",
            "solution": "def f():\n    return 1\n",
            "score": 3,
            "extra": {"nested": [1, 2]},
        }
    )
    kinds = {b.label: b for b in blocks}
    assert kinds["Messages"].kind == "chat"
    assert [m["role"] for m in kinds["Messages"].messages] == ["user", "assistant"]
    trace = kinds["Trace"]
    assert [s["kind"] for s in trace.steps] == ["thought", "tool_call", "tool_output"]
    assert trace.steps[1]["name"] == "bash"
    assert trace.steps[2]["folded"], "long tool output starts folded"
    assert (kinds["Environment"].kind, kinds["Environment"].language) == ("code", "dockerfile")
    assert (kinds["Solution"].kind, kinds["Solution"].language) == ("code", "python")
    assert kinds["Score"].kind == "scalar"
    assert kinds["Extra"].kind == "json"


def test_it_stores_a_submitted_rating_and_moves_to_the_next_item(members, items, project):
    user = members["annotator"]
    client = page_client(user)
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    item_id = leased(html)
    draft_save(item=items[0].__class__.objects.get(pk=item_id), user=user, values={}, rationales={}, seconds_spent=3)
    response = client.post(
        f"/projects/{project.pk}/annotate/",
        {
            "item": item_id,
            "value-helpfulness": "4",
            "rationale-helpfulness": "Clear.",
            "value-correct": "true",
            "value-tone": "ok",
            "value-notes": "",
            "seconds_spent": "12.5",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/annotate/"
    rating = Rating.objects.get(item_id=item_id, rater__user=user)
    assert rating.values == {"helpfulness": 4, "correct": True, "tone": "ok"}
    assert rating.rationales == {"helpfulness": "Clear."}
    assert rating.seconds_spent == 12.5
    assert rating.source == "ui"
    assert not Draft.objects.filter(item_id=item_id, user=user).exists()
    following = client.get(response["Location"]).content.decode()
    assert leased(following) != item_id
    assert "Saved your rating" in following


def test_it_shows_errors_next_to_each_criterion_and_keeps_what_was_typed(members, items, project):
    client = page_client(members["annotator"])
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    item_id = leased(html)
    response = client.post(
        f"/projects/{project.pk}/annotate/",
        {
            "item": item_id,
            "value-helpfulness": "4",
            "value-tone": "rude",
            "value-notes": "my <notes>",
            "rationale-tone": "Why not",
        },
    )
    assert response.status_code == 400, "answered at the page's own URL, with the form"
    assert '"refused": true' in response.content.decode(), "the page's script makes a reload a GET"
    html = response.content.decode()
    helpfulness = re.search(r'<fieldset class="criterion has-error" data-key="helpfulness".*?</fieldset>', html, re.S)
    assert helpfulness and "a rationale is required" in helpfulness.group(0)
    correct = re.search(r'<fieldset class="criterion has-error" data-key="correct".*?</fieldset>', html, re.S)
    assert correct and "this criterion is required." in correct.group(0)
    assert re.search(r'value="4" data-index="4" checked', html)
    assert re.search(r'value="rude" data-index="2" checked', html)
    assert "my &lt;notes&gt;</textarea>" in html
    assert "Why not</textarea>" in html
    assert not Rating.objects.exists()


def test_it_restores_the_server_draft_in_the_form(members, items, project):
    user = members["annotator"]
    client = page_client(user)
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    item_id = leased(html)
    item = next(i for i in items if i.pk == item_id)
    draft_save(
        item=item, user=user, values={"correct": False}, rationales={"helpfulness": "half done"}, seconds_spent=9
    )
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert re.search(r'name="value-correct" value="false" data-index="2" checked', html)
    assert "half done</textarea>" in html
    assert '"secondsSpent": 9' in html


def test_form_urls_opened_after_a_login_lead_back_to_the_page(members, items, project):
    client = page_client(members["reviewer"])
    base = f"/projects/{project.pk}"
    assert client.get(f"{base}/annotate/{items[0].pk}/skip/")["Location"] == f"{base}/annotate/"
    assert not Rating.objects.exists() and not Skip.objects.exists()


def test_it_skips_an_item_and_never_offers_it_again(members, items, project):
    user = members["annotator"]
    client = page_client(user)
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    item_id = leased(html)
    response = client.post(f"/projects/{project.pk}/annotate/{item_id}/skip/", {"reason": "not my field"})
    assert response.status_code == 302
    assert Skip.objects.get(item_id=item_id, user=user).reason == "not my field"
    html = client.get(f"/projects/{project.pk}/annotate/").content.decode()
    assert leased(html) != item_id


def test_it_says_so_when_the_queue_is_empty(members, items, project):
    for item in items:
        rate(members["annotator"], item)
    response = page_client(members["annotator"]).get(f"/projects/{project.pk}/annotate/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing left to annotate" in html
    assert 'href="/"' in html


def test_outsiders_get_403_and_annotators_get_403_on_review(members, items, project):
    assert page_client(members["outsider"]).get(f"/projects/{project.pk}/annotate/").status_code == 403
    assert page_client(members["annotator"]).get(f"/projects/{project.pk}/review/").status_code == 403
    post = page_client(members["annotator"]).post(f"/projects/{project.pk}/review/{items[0].pk}/", {})
    assert post.status_code == 403
    assert not Gold.objects.exists()
    assert page_client(members["reviewer"]).get(f"/projects/{project.pk}/review/").status_code == 200
    assert page_client(members["manager"]).get(f"/projects/{project.pk}/review/").status_code == 200


@pytest.fixture
def disputed(members, items):
    """items[0]: two people disagree on helpfulness, and a judge weighs in."""
    item = items[0]
    rate(members["annotator"], item, values={**GOOD_VALUES, "helpfulness": 2}, rationales={"helpfulness": "Thin."})
    rate(members["annotator2"], item, values={**GOOD_VALUES, "helpfulness": 5}, rationales={"helpfulness": "Great."})
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge-gpt v3")
    rating_submit(
        item=item, rater=judge, values={**GOOD_VALUES, "helpfulness": 5}, rationales={"helpfulness": "Judge: <b>5</b>"}
    )
    return item


def test_reviewers_see_every_rater_side_by_side_and_judges_as_machine(members, project, disputed):
    html = page_client(members["reviewer"]).get(f"/projects/{project.pk}/review/").content.decode()
    assert disputed.external_id in html
    for text in ("annotator", "annotator2", "judge-gpt v3", "Thin.", "Great.", "machine"):
        assert text in html
    assert "Judge: &lt;b&gt;5&lt;/b&gt;" in html
    assert f'action="/projects/{project.pk}/review/{disputed.pk}/"' in html


def test_a_reviewer_sets_gold_and_errors_keep_the_form(members, project, disputed):
    client = page_client(members["reviewer"])
    url = f"/projects/{project.pk}/review/{disputed.pk}/"
    refused = client.post(url, {"value-helpfulness": "9", "value-correct": "true", "note": "typed note"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "outside the scale" in html
    assert "typed note</textarea>" in html
    assert not Gold.objects.exists()

    saved = client.post(url, {"value-helpfulness": "4", "value-correct": "true", "value-tone": "ok", "note": "n"})
    assert saved.status_code == 302 and saved["Location"] == f"/projects/{project.pk}/review/?after={disputed.pk}"
    gold = Gold.objects.get(item=disputed)
    assert gold.values == {"helpfulness": 4, "correct": True, "tone": "ok"}
    assert gold.reviewer == members["reviewer"]
    assert gold.note == "n"
