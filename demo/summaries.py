"""A small demo project so a newcomer sees something on first run. Idempotent."""

import random
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import Project, Rating, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.ratings import rating_submit
from demo.agentic import agentic_demo_seed
from rubrics.models import Rubric
from rubrics.services import rubric_create

DEMO_PROJECT = "Demo: assistant answers"
DEMO_USERS = [("alice", Role.ANNOTATOR), ("bob", Role.ANNOTATOR), ("carol", Role.ANNOTATOR), ("rita", Role.REVIEWER)]

RUBRIC = {
    "name": "Assistant answer quality",
    "instructions": "Rate the assistant's answer to the user's prompt. Judge the answer, not the question.",
    "criteria": [
        {
            "key": "helpfulness",
            "title": "Helpfulness",
            "description": "Does the answer do what the user asked?",
            "scale": {
                "kind": "ordinal",
                "min": 1,
                "max": 5,
                "labels": {
                    "1": "Ignores or misreads the request.",
                    "2": "Addresses the request but is mostly unusable.",
                    "3": "Usable with significant fixes.",
                    "4": "Useful with minor gaps.",
                    "5": "Fully answers the request; nothing to add.",
                },
            },
            "rationale_required": True,
        },
        {
            "key": "correct",
            "title": "Factually correct",
            "description": "Every factual claim is true.",
            "scale": {"kind": "binary", "labels": {"true": "No false claims.", "false": "At least one false claim."}},
        },
        {
            "key": "tone",
            "title": "Tone",
            "scale": {"kind": "categorical", "choices": ["appropriate", "too terse", "too verbose", "rude"]},
        },
        {"key": "notes", "title": "Notes", "scale": {"kind": "text"}, "required": False},
    ],
}

PROMPTS = [
    ("How do I reverse a list in Python?", "Use `my_list[::-1]` for a copy or `my_list.reverse()` in place."),
    ("What is the boiling point of water at sea level?", "100 °C (212 °F) at 1 atm."),
    (
        "Summarise the causes of World War I in one sentence.",
        "Militarism, alliances, imperialism and nationalism, sparked by the assassination of Archduke Franz Ferdinand.",
    ),
    ("Write a haiku about autumn.", "Crisp leaves drift and fall\nthe maple lets go of red\nwind carries it home"),
    ("Is 91 a prime number?", "Yes, 91 is prime."),
    (
        "Explain recursion to a child.",
        "Recursion is when something is defined using a smaller copy of itself, like Russian dolls.",
    ),
    ("Convert 5 km to miles.", "About 3.11 miles."),
    ("What does HTTP 404 mean?", "The server could not find the requested resource."),
    ("Give me a SQL query to count rows in `orders`.", "```sql\nSELECT COUNT(*) FROM orders;\n```"),
    ("Who wrote *Pride and Prejudice*?", "Charles Dickens."),
    ("How many continents are there?", "Seven, by the most common convention."),
    ("What's a good name for a cat?", "Whiskers."),
]


def _password() -> str:
    return secrets.token_urlsafe(9)


@transaction.atomic
def demo_seed() -> list[tuple[str, str]]:
    """Create the demo projects, users, items and ratings. Returns new (user, password)."""
    User = get_user_model()
    admin = User.objects.filter(is_superuser=True).order_by("id").first()
    created = [] if Project.objects.filter(name=DEMO_PROJECT).exists() else _assistant_demo_seed()
    owner = admin or User.objects.get(username="demo-manager")
    agentic_demo_seed(owner=owner, annotators=["alice", "bob", "carol"], reviewer="rita")
    return created


def _assistant_demo_seed() -> list[tuple[str, str]]:
    User = get_user_model()
    admin = User.objects.filter(is_superuser=True).order_by("id").first()
    rubric = Rubric.objects.filter(name=RUBRIC["name"]).first()
    version = rubric.latest_version() if rubric else rubric_create(actor=admin, **RUBRIC)
    owner = admin or User.objects.create_user(username="demo-manager", password=_password())
    project = project_create(
        actor=owner,
        name=DEMO_PROJECT,
        rubric=version,
        guidelines="## Guidelines\n\n* Read the **whole** answer before rating.\n"
        "* A single false claim makes *Factually correct* false.\n* Explain every helpfulness score.",
        annotations_per_item=3,
    )
    created = []
    for username, role in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            password = _password()
            user = User.objects.create_user(username=username, password=password)
            created.append((username, password))
        membership_set(project=project, user=user, role=role)

    rows = [
        {"external_id": f"demo-{i:03d}", "data": {"prompt": p, "response": r}, "metadata": {"source": "demo"}}
        for i, (p, r) in enumerate(PROMPTS, start=1)
    ]
    rows.append(
        {
            "external_id": "demo-chat-001",
            "data": {
                "messages": [
                    {"role": "user", "content": "My build fails with `ModuleNotFoundError: numpy`."},
                    {"role": "assistant", "content": "Install it in the active environment: `pip install numpy`."},
                    {"role": "user", "content": "Still failing <script>alert('demo')</script>"},
                    {"role": "assistant", "content": "Check that `which python` points into your virtualenv."},
                ]
            },
        }
    )
    items_import(project=project, rows=rows)

    rng = random.Random(7)
    tones = RUBRIC["criteria"][2]["scale"]["choices"]
    for item in project.items.order_by("id")[:6]:
        base = rng.randint(2, 5)
        for username in ("alice", "bob"):
            user = User.objects.get(username=username)
            if Rating.objects.filter(item=item, rater__user=user).exists():
                continue
            rating_submit(
                item=item,
                rater=rater_for_user(user=user),
                values={
                    "helpfulness": max(1, min(5, base + rng.choice([-1, 0, 0, 1]))),
                    "correct": rng.random() > 0.2,
                    "tone": rng.choice(tones[:2]),
                },
                rationales={"helpfulness": "Demo rating."},
                seconds_spent=rng.uniform(20, 90),
                source="ui",
            )
    if created:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        with (settings.VAR_DIR / "credentials.txt").open("a") as out:
            for username, password in created:
                out.write(f"demo {username} {password}\n")
    return created
