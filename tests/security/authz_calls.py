"""How the authorization matrix calls each operation (tests/security/test_authz_matrix.py).

CALLS: the request of an operation about one side (project) of the world, where the default path
ids are not enough. FOREIGN: requests about project A that name something of project B in their
body or filters. tests/security/test_request_bodies.py sends the bodies of CALLS too.
"""

from dataclasses import dataclass, field
from typing import Any

from accounts.models import ApiToken
from rubrics.templates import template_list
from tests.security.authz_policy import MANAGE, NOBODY, REVIEW, STAFF_ONLY, P
from tests.security.world import CRITERIA, GOOD_VALUES

OK = frozenset({200, 201, 202, 204})


@dataclass
class Call:
    """How to call one operation about one side (project) of the world."""

    path: dict = field(default_factory=dict)  # path parameters that differ from the defaults
    body: Any = None
    query: dict | None = None
    fmt: str = "json"
    ok: frozenset = OK  # what an allowed caller gets


def _item(n):
    return lambda w, s, actor: Call(path={"item_id": s.items[n].pk})


def _rating_body(s):
    return {"values": GOOD_VALUES, "rationales": {"helpfulness": "fine"}}


def _import_rows(item, rater: str, rationale: str) -> list[dict]:
    """A ratings/import body: one rating of ``rater`` on ``item``."""
    return [
        {
            "external_id": item.external_id,
            "rater": rater,
            "values": GOOD_VALUES,
            "rationales": {"helpfulness": rationale},
        }
    ]


def _import_into_a(item_side: str, rater: str):
    """A FOREIGN request: import into project A a rating of ``rater`` on item 4 of side ``item_side``."""
    return lambda w, a, b, actor: Call(body=_import_rows({"A": a, "B": b}[item_side].items[4], rater, "x"))


# Requests that need more than the default path ids. ``w`` the world, ``s`` the side (project),
# ``actor`` the calling user (None for anonymous).
CALLS = {
    ("POST", f"{P}/auth/token/"): lambda w, s, actor: Call(
        body={"username": actor.username if actor else "staff", "password": "wrong"}, ok=frozenset({400})
    ),
    ("POST", f"{P}/users/"): lambda w, s, actor: Call(body={"username": "newcomer", "password": "a-long-Passw0rd-xyz"}),
    # Each caller revokes a token of their own (someone else's is a 404: tests/security/test_tokens.py).
    ("POST", f"{P}/users/me/tokens/{{token_id}}/revoke/"): lambda w, s, actor: Call(
        path={"token_id": ApiToken.objects.filter(user=actor).values_list("pk", flat=True).first() if actor else 1},
        ok=frozenset({204}),
    ),
    ("POST", f"{P}/rubrics/"): lambda w, s, actor: Call(body={"name": "New", "criteria": CRITERIA}),
    ("POST", f"{P}/rubrics/from-template/"): lambda w, s, actor: Call(body={"template": template_list()[0]["key"]}),
    ("PUT", f"{P}/rubrics/{{rubric_id}}/"): lambda w, s, actor: Call(
        body={"name": "Renamed", "instructions": "i", "criteria": CRITERIA}
    ),
    ("PATCH", f"{P}/rubrics/{{rubric_id}}/"): lambda w, s, actor: Call(body={"name": "Renamed"}),
    ("GET", f"{P}/rubrics/{{rubric_id}}/diff/"): lambda w, s, actor: Call(query={"from": 1, "to": 1}),
    ("POST", f"{P}/rubrics/{{rubric_id}}/versions/{{number}}/copy/"): lambda w, s, actor: Call(ok=frozenset({201})),
    ("POST", f"{P}/projects/"): lambda w, s, actor: Call(body={"name": "New", "rubric": s.rubric.pk}),
    ("PATCH", f"{P}/projects/{{project_id}}/"): lambda w, s, actor: Call(body={"name": "Renamed", "guidelines": "g"}),
    # Everyone tries to make themselves a manager.
    ("POST", f"{P}/projects/{{project_id}}/members/"): lambda w, s, actor: Call(
        body={"user": (actor or w.users["annotator_a"]).pk, "role": "manager"}, ok=frozenset({201})
    ),
    # A side's annotator is removed (its only manager cannot be); the other side's invites.
    ("POST", f"{P}/projects/{{project_id}}/members/{{user_id}}/remove/"): lambda w, s, actor: Call(
        path={"user_id": w.users[f"annotator_{s.name.lower()}"].pk}, ok=frozenset({204})
    ),
    ("POST", f"{P}/projects/{{project_id}}/invitations/"): lambda w, s, actor: Call(
        body={"invitee": "annotator_b" if s.name == "A" else "annotator_a", "role": "annotator"}, ok=frozenset({201})
    ),
    ("POST", f"{P}/projects/{{project_id}}/invitations/{{invitation_id}}/cancel/"): lambda w, s, actor: Call(
        ok=frozenset({204})
    ),
    # Only its invitee answers an invitation; anyone else gets the 404 of an invitation that does not exist.
    ("POST", f"{P}/invitations/{{invitation_id}}/accept/"): lambda w, s, actor: Call(ok=frozenset({200, 404})),
    ("POST", f"{P}/invitations/{{invitation_id}}/decline/"): lambda w, s, actor: Call(ok=frozenset({200, 404})),
    ("GET", f"{P}/projects/{{project_id}}/items/"): lambda w, s, actor: Call(query={"status": "pending"}),
    ("POST", f"{P}/projects/{{project_id}}/items/"): lambda w, s, actor: Call(
        body=[{"external_id": "new-1", "data": {"prompt": "p"}}], ok=frozenset({201})
    ),
    ("POST", f"{P}/projects/{{project_id}}/ratings/import/"): lambda w, s, actor: Call(
        body=_import_rows(s.items[4], f"annotator_{s.name.lower()}", "imported"), ok=frozenset({201})
    ),
    ("GET", f"{P}/items/{{item_id}}/draft/"): _item(1),
    ("PUT", f"{P}/items/{{item_id}}/draft/"): lambda w, s, actor: Call(
        path={"item_id": s.items[3].pk}, body={"values": {"helpfulness": 5}, "rationales": {}}
    ),
    ("POST", f"{P}/items/{{item_id}}/ratings/"): lambda w, s, actor: Call(
        path={"item_id": s.items[3].pk}, body=_rating_body(s), ok=frozenset({201})
    ),
    ("POST", f"{P}/projects/{{project_id}}/queue/skip/"): lambda w, s, actor: Call(body={"item": s.items[5].pk}),
    ("POST", f"{P}/projects/{{project_id}}/queue/unskip/"): lambda w, s, actor: Call(body={"item": s.items[5].pk}),
    # Your own rating: members who rated item 0 (its annotator and manager) get it, the others 404.
    ("GET", f"{P}/items/{{item_id}}/ratings/mine/"): lambda w, s, actor: Call(ok=frozenset({200, 404})),
    ("PATCH", f"{P}/items/{{item_id}}/ratings/mine/"): lambda w, s, actor: Call(
        body=_rating_body(s), ok=frozenset({200, 404})
    ),
    ("POST", f"{P}/items/{{item_id}}/gold/"): lambda w, s, actor: Call(
        path={"item_id": s.items[3].pk}, body=_rating_body(s), ok=frozenset({201})
    ),
    ("POST", f"{P}/items/{{item_id}}/send-back/"): lambda w, s, actor: Call(
        path={"item_id": s.items[3].pk}, body={"note": "look again"}, ok=frozenset({201})
    ),
    ("POST", f"{P}/items/{{item_id}}/reject/"): lambda w, s, actor: Call(
        path={"item_id": s.items[4].pk}, body={"reason": "off topic"}
    ),
    # Held for review, then reopened: either may find nothing left to do when called again (409).
    ("POST", f"{P}/items/{{item_id}}/send-to-review/"): lambda w, s, actor: Call(
        path={"item_id": s.items[5].pk}, body={"reason": "look again"}, ok=frozenset({200, 409})
    ),
    ("POST", f"{P}/items/{{item_id}}/reopen/"): lambda w, s, actor: Call(
        path={"item_id": s.items[5].pk}, ok=frozenset({200, 409})
    ),
    ("POST", f"{P}/projects/{{project_id}}/approval-policy/preview/"): lambda w, s, actor: Call(
        body={"numeric_tolerance": 0.5}
    ),
    # Neither project names a tasks project, so an allowed caller gets past the checks to a 400.
    ("GET", f"{P}/projects/{{project_id}}/reports/failure-modes/"): lambda w, s, actor: Call(ok=frozenset({400})),
    ("GET", f"{P}/projects/{{project_id}}/agreement/"): lambda w, s, actor: Call(query={"bootstrap": 0}),
    ("POST", f"{P}/projects/{{project_id}}/audit/"): lambda w, s, actor: Call(body={"size": 2, "seed": 7}),
    ("PATCH", f"{P}/projects/{{project_id}}/approval-policy/"): lambda w, s, actor: Call(
        body={"judge_may_approve": False}
    ),
    # The judges list is filtered by the side's project: a stranger must get an empty list.
    ("GET", f"{P}/judges/"): lambda w, s, actor: Call(query={"project": s.project.pk}),
    ("POST", f"{P}/judges/"): lambda w, s, actor: Call(
        body={
            "project": s.project.pk,
            "name": "new judge",
            "provider": "openai_compatible",
            "model": "m",
            "base_url": "http://127.0.0.1:9/v1",
        }
    ),
    ("PUT", f"{P}/judges/{{judge_id}}/"): lambda w, s, actor: Call(body={"name": "renamed"}),
    ("PATCH", f"{P}/judges/{{judge_id}}/"): lambda w, s, actor: Call(body={"name": "renamed"}),
    ("POST", f"{P}/judges/{{judge_id}}/estimate/"): lambda w, s, actor: Call(body={"items": "all"}),
    # The side's run is queued, not stopped at a budget: an allowed caller is told so (409).
    ("POST", f"{P}/judge-runs/{{run_id}}/resume/"): lambda w, s, actor: Call(
        body={"max_cost": "5"}, ok=frozenset({409})
    ),
    ("PUT", f"{P}/projects/{{project_id}}/judge-budget/"): lambda w, s, actor: Call(body={"monthly_cap_usd": "10"}),
    ("PATCH", f"{P}/projects/{{project_id}}/judge-budget/"): lambda w, s, actor: Call(body={"monthly_cap_usd": "10"}),
    ("POST", f"{P}/projects/{{project_id}}/judge-runs/"): lambda w, s, actor: Call(
        body={"judge": s.spare_judge.pk, "items": "all"}
    ),
    ("GET", f"{P}/projects/{{project_id}}/export/"): lambda w, s, actor: Call(
        query={"status": "all", "include": "ratings,judges"}
    ),
    ("GET", f"{P}/projects/{{project_id}}/export/manifest/"): lambda w, s, actor: Call(
        query={"status": "all", "include": "ratings,judges"}
    ),
    ("POST", f"{P}/projects/{{project_id}}/export/snapshots/"): lambda w, s, actor: Call(body={"status": "all"}),
}


@dataclass(frozen=True)
class Foreign:
    """A request about project A that names something of project B in its body or filters."""

    method: str
    path: str
    label: str
    allowed: frozenset  # relations to project A that may do it
    build: Any


RATINGS_IMPORT = f"{P}/projects/{{project_id}}/ratings/import/"
FOREIGN = [
    Foreign(
        "PATCH",
        f"{P}/projects/{{project_id}}/",
        "pin project A to rubric B",
        STAFF_ONLY,
        lambda w, a, b, actor: Call(body={"rubric": b.rubric.pk, "rubric_version": 1}),
    ),
    Foreign(
        "PATCH",
        f"{P}/projects/{{project_id}}/",
        "link project B as A's tasks project",
        STAFF_ONLY,
        lambda w, a, b, actor: Call(body={"tasks_project": b.project.pk}),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/judge-runs/",
        "run judge B in project A",
        NOBODY,
        lambda w, a, b, actor: Call(body={"judge": b.spare_judge.pk, "items": "all"}),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/judge-runs/",
        "run judge A on items of B",
        NOBODY,
        lambda w, a, b, actor: Call(body={"judge": a.spare_judge.pk, "items": [b.items[0].pk]}),
    ),
    Foreign(
        "POST",
        f"{P}/judges/{{judge_id}}/estimate/",
        "estimate judge A on items of B",
        NOBODY,
        lambda w, a, b, actor: Call(body={"items": [b.items[0].pk]}),
    ),
    Foreign(
        "POST",
        f"{P}/judges/{{judge_id}}/test/",
        "test judge A on an item of B",
        NOBODY,
        lambda w, a, b, actor: Call(body={"item": b.items[0].pk}),
    ),
    Foreign(
        "PATCH",
        f"{P}/judges/{{judge_id}}/",
        "move judge A to project B",
        NOBODY,
        lambda w, a, b, actor: Call(body={"project": b.project.pk}),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/queue/skip/",
        "skip an item of B in A's queue",
        NOBODY,
        lambda w, a, b, actor: Call(body={"item": b.items[5].pk}),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/queue/unskip/",
        "take back a skip of an item of B in A's queue",
        NOBODY,
        lambda w, a, b, actor: Call(body={"item": b.items[5].pk}),
    ),
    # Allowed, and no leak: the rating goes to an external rater of A named "annotator_b", never to
    # B's account, which is not a member of A (consent: tests/security/test_consent.py).
    Foreign(
        "POST", RATINGS_IMPORT, "import ratings as B's annotator into A", MANAGE, _import_into_a("A", "annotator_b")
    ),
    Foreign(
        "POST", RATINGS_IMPORT, "import ratings onto B's item ids into A", NOBODY, _import_into_a("B", "annotator_a")
    ),
    # A filter only reviewers and managers may use.
    Foreign(
        "GET",
        f"{P}/projects/{{project_id}}/items/",
        "filter items by acceptance bucket",
        REVIEW,
        # The world's rubric has no gate criteria: a reviewer gets past the check to a 400.
        lambda w, a, b, actor: Call(query={"bucket": "accepted"}, ok=frozenset({400})),
    ),
    # Only staff add an account that is not a member; managers invite (issue 16, point 9).
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/members/",
        "add B's annotator to A",
        STAFF_ONLY,
        lambda w, a, b, actor: Call(body={"user": "annotator_b", "role": "annotator"}, ok=frozenset({201})),
    ),
    Foreign(
        "POST",
        f"{P}/projects/{{project_id}}/export/snapshots/",
        "snapshot of A filtered with B's ids",
        MANAGE,
        # The snapshot body takes no project: naming B there is refused (400), never half-used.
        lambda w, a, b, actor: Call(body={"status": "all", "project": b.project.pk}, ok=frozenset({400})),
    ),
]
