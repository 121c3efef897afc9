"""Two projects with everything in them, for the authorization matrix, the filter tests and the fuzzer.

Every piece of text a user could see carries a marker saying who may see it, so a leak shows up
as a marker in a response body, whatever the endpoint and whatever the JSON shape:

- ``SECRET-A`` / ``SECRET-B``: project data (names, items, rubric, judges): members and staff.
- ``OWN-A-ann``: annotator A's rating: annotator A, reviewers and managers of A, staff.
- ``PEER-A-*``: other raters' ratings and gold in A: reviewers and managers of A, staff.
- ``DRAFT-A-*``: a person's unsaved draft: that person only.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import api_token_create
from annotation.models import Gold, Invitation, Rater, RaterKind, Rating, Role
from annotation.selectors import rater_for_user
from annotation.services.drafts import draft_save
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from exports.services import snapshot_create, snapshot_run
from exports.spec import export_spec_parse
from judges.services.judges import judge_create
from judges.services.runs import judge_run_start
from rubrics.services import rubric_create
from tests.criteria import CORRECT, HELPFULNESS

PASSWORD = "correct-horse-battery"

CRITERIA = [HELPFULNESS, CORRECT]
GOOD_VALUES = {"helpfulness": 4, "correct": True}

# The seven roles of the matrix: (name, project, role in it, staff?).
ROLES = [
    ("anonymous", None, None, False),
    ("annotator_a", "A", Role.ANNOTATOR, False),
    ("annotator_b", "B", Role.ANNOTATOR, False),
    ("reviewer_a", "A", Role.REVIEWER, False),
    ("manager_a", "A", Role.MANAGER, False),
    ("manager_b", "B", Role.MANAGER, False),
    ("staff", None, None, True),
]


@dataclass
class Side:
    """One project and the ids the matrix puts in paths, bodies and filters."""

    name: str
    project: object
    rubric: object
    items: list
    judge: object  # has a queued run
    spare_judge: object  # free to start a run
    run: object
    snapshot: object
    manager: object
    invitation: object = None  # pending, addressed to a member who may see this side's data

    def path_ids(self) -> dict:
        """A real id of this side for every path parameter of the API."""
        return {
            "project_id": self.project.pk,
            "item_id": self.items[0].pk,
            "run_id": self.run.pk,
            "judge_id": self.judge.pk,
            "rubric_id": self.rubric.pk,
            "number": 1,
            "snapshot_id": self.snapshot.pk,
            "user_id": self.manager.pk,
            "invitation_id": self.invitation.pk if self.invitation else 0,
            "token_id": ApiToken.objects.filter(user=self.manager).values_list("pk", flat=True).first() or 0,
        }


@dataclass
class World:
    users: dict  # role name -> user (no entry for anonymous)
    tokens: dict  # role name -> token key
    sides: dict = field(default_factory=dict)  # "A" / "B" -> Side


def token_client(world: World, role: str) -> APIClient:
    """An API client that sends ``role``'s token (none for anonymous)."""
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
    return client


def _user(name: str, *, staff: bool = False):
    user = get_user_model().objects.create_user(
        username=name, password=PASSWORD, is_staff=staff, email=f"{name}@example.org"
    )
    return user


def _rate(user_or_rater, item, version, rationale: str) -> None:
    rater = user_or_rater if isinstance(user_or_rater, Rater) else rater_for_user(user=user_or_rater)
    Rating.objects.create(
        item=item,
        rater=rater,
        rubric_version=version,
        values=GOOD_VALUES,
        rationales={"helpfulness": rationale},
        source="api",
    )


def world_build(*, llm_base_url: str = "http://127.0.0.1:9/v1") -> World:
    users = {name: _user(name, staff=staff) for name, _, _, staff in ROLES if name != "anonymous"}
    tokens = {name: api_token_create(user=user)[1] for name, user in users.items()}
    world = World(users=users, tokens=tokens)
    for side in ("A", "B"):
        manager = users[f"manager_{side.lower()}"]
        # The manager wrote the rubric: authorship, not the role, lets them edit it.
        version = rubric_create(
            actor=manager, name=f"Rubric SECRET-{side}", instructions=f"SECRET-{side}", criteria=CRITERIA
        )
        project = project_create(
            actor=users["staff"],
            name=f"Project SECRET-{side}",
            rubric=version,
            guidelines=f"SECRET-{side} guidelines",
            annotations_per_item=3,
        )
        project.memberships.filter(user=users["staff"]).delete()
        for name, where, role, _ in ROLES:
            if where == side:
                membership_set(project=project, user=users[name], role=role)
        items_import(
            project=project,
            rows=[
                {"external_id": f"{side}{i}", "data": {"prompt": f"SECRET-{side} p{i}", "response": f"r{i}"}}
                for i in range(6)
            ],
        )
        items = list(project.items.order_by("id"))
        annotator = users[f"annotator_{side.lower()}"]
        _rate(annotator, items[0], version, f"OWN-{side}-ann")
        _rate(manager, items[0], version, f"PEER-{side}-mgr")
        if side == "A":
            _rate(users["reviewer_a"], items[0], version, "PEER-A-rev")
        judge_rater = Rater.objects.create(kind=RaterKind.JUDGE, name=f"judge-{side} v1", version=1)
        _rate(judge_rater, items[0], version, f"PEER-{side}-judge")
        Gold.objects.create(
            item=items[2],
            rubric_version=version,
            values=GOOD_VALUES,
            rationales={"helpfulness": f"PEER-{side}-gold"},
            reviewer=manager,
            note=f"PEER-{side}-gold note",
        )
        draft_save(
            item=items[1],
            user=annotator,
            values={"helpfulness": 2},
            rationales={"helpfulness": f"DRAFT-{side}-ann"},
            seconds_spent=3.0,
        )
        judge_fields = {"provider": "openai_compatible", "model": "m", "base_url": llm_base_url, "api_key_env": ""}
        judge = judge_create(actor=manager, project=project, name=f"judge SECRET-{side}", **judge_fields)
        spare = judge_create(actor=manager, project=project, name=f"spare SECRET-{side}", **judge_fields)
        run = judge_run_start(actor=manager, project=project, judge=judge, items="all")
        snapshot = snapshot_create(
            project=project, spec=export_spec_parse({"status": "all", "include": "ratings,judges"}), actor=manager
        )
        snapshot_run(snapshot_id=snapshot.pk)
        snapshot.refresh_from_db()
        # Written directly: a member's pending invitation (the service refuses to invite a member), so
        # that accepting it shows its invitee nothing they may not see already.
        invitee = users["reviewer_a"] if side == "A" else annotator
        invitation = Invitation.objects.create(project=project, user=invitee, role=Role.ANNOTATOR, invited_by=manager)
        world.sides[side] = Side(side, project, version.rubric, items, judge, spare, run, snapshot, manager, invitation)
    draft_save(
        item=world.sides["A"].items[1],
        user=users["reviewer_a"],
        values={"helpfulness": 3},
        rationales={"helpfulness": "DRAFT-A-rev"},
        seconds_spent=1.0,
    )
    return world
