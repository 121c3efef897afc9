"""The review page, one item at a time: the disagreement highlighted, a count of what is left, and
the decisions its keys post: accept the majority, take one rater's answer, edit, send back, next."""

import re

import pytest
from django.test import Client

from annotation.models import Gold, ItemStatus, SendBack
from annotation.selectors import items_for_review, rater_for_user
from annotation.services.ratings import rating_change, rating_submit
from tests.conftest import GOOD_VALUES

WHY = {"helpfulness": "why"}


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def disputed(project, members, items):
    """Three people rate items 0-2 (overlap 3): helpfulness 4, 4, 2 (a majority of 4), tone split."""
    project.annotations_per_item = 3
    project.save(update_fields=["annotations_per_item"])
    raters = [members["annotator"], members["annotator2"], members["manager"]]
    for item in items[:3]:
        for user, helpfulness, tone in zip(raters, (4, 4, 2), ("ok", "rude", "ok"), strict=True):
            rating_submit(
                item=item,
                rater=rater_for_user(user=user),
                values={**GOOD_VALUES, "helpfulness": helpfulness, "tone": tone},
                rationales={"helpfulness": f"{user.username} says {helpfulness}"},
            )
    assert [i.status for i in items_for_review(project=project)] == [ItemStatus.NEEDS_REVIEW] * 3
    return items[:3]


def shown(html: str) -> int:
    return int(re.search(r'action="/projects/\d+/review/(\d+)/" class="card rating-form gold-form"', html).group(1))


def test_it_shows_one_item_at_a_time_with_what_is_left(members, project, disputed):
    client = page_client(members["reviewer"])
    html = client.get(f"/projects/{project.pk}/review/").content.decode()
    assert shown(html) == disputed[0].pk and "3 left to review" in html
    assert html.count('class="card rating-form gold-form"') == 1
    html = client.get(f"/projects/{project.pk}/review/?after={disputed[0].pk}").content.decode()
    assert shown(html) == disputed[1].pk and f'href="/projects/{project.pk}/review/?after={disputed[1].pk}"' in html
    html = client.get(f"/projects/{project.pk}/review/?after={disputed[2].pk}").content.decode()
    assert shown(html) == disputed[0].pk and "back to the first" in html
    assert client.get(f"/projects/{project.pk}/review/?after=zzz").status_code == 200


def test_it_highlights_the_disagreement_against_the_majority(members, project, disputed):
    html = page_client(members["reviewer"]).get(f"/projects/{project.pk}/review/").content.decode()
    helpfulness = re.search(r'<tr class="disagree">\s*<th scope="row">Helpfulness.*?</tr>', html, re.S).group(0)
    assert helpfulness.count('class="off-majority"') == 1, "the one rater off the majority (2 against 4, 4)"
    assert '<td class="majority"><strong>4</strong>' in helpfulness
    tone = re.search(r'<th scope="row">Tone.*?</tr>', html, re.S).group(0)
    assert "none</span>" not in tone and "<strong>ok</strong>" in tone
    correct = re.search(r"<tr class=\"\">\s*<th scope=\"row\">Correct.*?</tr>", html, re.S)
    assert correct and "off-majority" not in correct.group(0), "agreement is not highlighted"
    assert "Take <kbd>1</kbd>" in html and "Take <kbd>3</kbd>" in html


def test_accepting_the_majority_stores_it_as_gold_and_moves_on(members, project, disputed):
    client = page_client(members["reviewer"])
    url = f"/projects/{project.pk}/review/{disputed[0].pk}/"
    response = client.post(url, {"decision": "majority"})
    assert response.status_code == 302 and response["Location"].endswith(f"?after={disputed[0].pk}")
    gold = Gold.objects.get(item=disputed[0])
    assert gold.values == {"helpfulness": 4, "correct": True, "tone": "ok"} and gold.note == "Accepted the majority."
    disputed[0].refresh_from_db()
    assert disputed[0].status == ItemStatus.APPROVED
    assert "2 left to review" in client.get(response["Location"]).content.decode()


def test_without_a_majority_accepting_it_is_refused_and_says_where(members, project, disputed):
    rating_change(
        item=disputed[1],
        rater=rater_for_user(user=members["annotator2"]),
        values={**GOOD_VALUES, "helpfulness": 3, "tone": "rude"},
        rationales=WHY,
    )
    client = page_client(members["reviewer"])
    page = client.get(f"/projects/{project.pk}/review/{disputed[1].pk}/").content.decode()
    assert "No majority on Helpfulness" in page and "disabled" in page
    response = client.post(f"/projects/{project.pk}/review/{disputed[1].pk}/", {"decision": "majority"})
    assert response.status_code == 400 and "No majority on Helpfulness" in response.content.decode()
    assert not Gold.objects.exists()


def test_taking_one_raters_answer_copies_their_values_and_rationales(members, project, disputed):
    client = page_client(members["reviewer"])
    chosen = rater_for_user(user=members["manager"])
    url = f"/projects/{project.pk}/review/{disputed[0].pk}/"
    assert client.post(url, {"decision": "rater", "rater": chosen.pk}).status_code == 302
    gold = Gold.objects.get(item=disputed[0])
    assert gold.values["helpfulness"] == 2 and gold.rationales == {"helpfulness": "manager says 2"}
    assert gold.note == "Took manager's answer."
    other = f"/projects/{project.pk}/review/{disputed[1].pk}/"
    assert client.post(other, {"decision": "rater", "rater": "999999"}).status_code == 400, "no such rater here"


def test_send_back_hands_the_item_to_its_raters_until_one_changes_their_answer(members, project, disputed):
    client = page_client(members["reviewer"])
    item = disputed[0]
    response = client.post(f"/projects/{project.pk}/review/{item.pk}/send-back/", {"note": "Check the <date>."})
    assert response.status_code == 302 and response["Location"].endswith(f"?after={item.pk}")
    assert SendBack.objects.get(item=item).note == "Check the <date>."
    assert item not in items_for_review(project=project)
    assert "2 left to review" in client.get(response["Location"]).content.decode()

    annotator = page_client(members["manager"])
    page = annotator.get(f"/projects/{project.pk}/annotate/{item.pk}/").content.decode()
    assert "sent this item back" in page and "Check the &lt;date&gt;." in page
    assert "sent back to you" in annotator.get(f"/projects/{project.pk}/annotate/").content.decode()
    # The manager (who said 2) agrees after all: the change takes the send-back away and the item
    # is decided again: 4, 4, 4 and tone 2 of 3 reach consensus.
    changed = annotator.post(
        f"/projects/{project.pk}/annotate/{item.pk}/",
        {"value-helpfulness": "4", "rationale-helpfulness": "ok, 4", "value-correct": "true", "value-tone": "ok"},
    )
    assert changed.status_code == 302
    assert not SendBack.objects.exists()
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED and item.consensus["helpfulness"] == 4


def test_a_decided_item_cannot_be_sent_back(members, project, disputed):
    client = page_client(members["reviewer"])
    client.post(f"/projects/{project.pk}/review/{disputed[0].pk}/", {"decision": "majority"})
    response = client.post(f"/projects/{project.pk}/review/{disputed[0].pk}/send-back/", {"note": "x"})
    assert response.status_code == 302
    assert "cannot be sent back" in client.get(response["Location"]).content.decode()
    assert not SendBack.objects.exists()


def test_annotators_cannot_review_or_send_back(members, project, disputed):
    client = page_client(members["annotator"])
    assert client.get(f"/projects/{project.pk}/review/").status_code == 403
    assert client.post(f"/projects/{project.pk}/review/{disputed[0].pk}/send-back/").status_code == 403
    assert client.post(f"/projects/{project.pk}/review/{disputed[0].pk}/", {"decision": "majority"}).status_code == 403
    assert not SendBack.objects.exists() and not Gold.objects.exists()


def test_the_page_says_when_nothing_waits(members, project, items):
    html = page_client(members["reviewer"]).get(f"/projects/{project.pk}/review/").content.decode()
    assert "Nothing needs review" in html


def test_the_api_sends_an_item_back(client_for, members, project, disputed):
    url = f"/api/v1/items/{disputed[0].pk}/send-back/"
    response = client_for(members["reviewer"]).post(url, {"note": "look again"}, format="json")
    assert response.status_code == 201 and response.json()["note"] == "look again"
    assert response.json()["reviewer"] == "reviewer"
    assert client_for(members["annotator"]).post(url, {}, format="json").status_code == 403
    assert client_for(members["reviewer"]).post(url, {"nope": 1}, format="json").status_code == 400
    client_for(members["reviewer"]).post(
        f"/api/v1/items/{disputed[1].pk}/gold/", {"values": GOOD_VALUES}, format="json"
    )
    decided = client_for(members["reviewer"]).post(f"/api/v1/items/{disputed[1].pk}/send-back/", {}, format="json")
    assert decided.status_code == 409 and "adjudicated" in decided.json()["detail"]
