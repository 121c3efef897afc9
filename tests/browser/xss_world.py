"""The hostile world of tests/browser/test_xss_corpus.py: every field a user or a model can write,
filled with the payloads of tests/browser/xss_payloads.py."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.services import api_token_create
from annotation.models import Item, ItemStatus, Role, Skip
from annotation.selectors import rater_for_user
from annotation.services.drafts import draft_save
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.queue import assignment_claim_next
from annotation.services.ratings import rating_change, rating_submit
from annotation.services.review import gold_set, item_send_back
from exports.models import ExportSnapshot
from judges.models import (
    BatchStatus,
    JudgeBatch,
    JudgeRun,
    JudgeSample,
    JudgeVerdict,
    JudgeVersion,
    Outcome,
    RunMode,
    RunStatus,
)
from judges.services.judges import judge_create
from quality.services.approval import item_reject
from rubrics.services import rubric_create
from tests.browser.xss_payloads import PAYLOADS, Corpus
from tests.browser.xss_world_manage import manage_world_build


@dataclass
class World:
    corpus: Corpus
    users: dict
    tasks: object  # project of tasks (acceptance rubric)
    traces: object  # project of agent traces whose tasks_project is ``tasks``
    empty: object  # a project with nothing left to annotate
    items: dict
    judge: object
    run: object
    snapshot: object
    rubric_version: object
    tokens: list[str]
    manage: dict  # the manager pages' objects: xss_world_manage.py


def _user(corpus: Corpus, name: str, index: int, **extra):
    # Usernames with markup cannot be made through the API or the admin (Django's username
    # validator); they are written straight to the table here, as an SSO back end or a future
    # form could, so that the pages are tested on what the column can hold.
    user = get_user_model().objects.create_user(
        username=corpus.one(f"user.{name}", index)[:150],
        password="correct-horse-battery",
        email=f"{name}@example.org",
        first_name=corpus.one(f"user.{name}.first_name", index)[:150],
        last_name=corpus.one(f"user.{name}.last_name", (index + 1) % len(PAYLOADS))[:150],
        **extra,
    )
    return user


def _all_shapes(corpus: Corpus, item: str) -> dict:
    """Item data with every shape item_display knows: text, Markdown, code, chat, trace, JSON, task."""
    c = corpus
    return {
        "instruction": c.text(f"{item}.instruction", markdown=False),  # plain text
        "prompt": c.text(f"{item}.prompt"),  # Markdown
        "context": c.text(f"{item}.context", markdown=False),
        "messages": [
            {"role": c.one(f"{item}.messages.role", 1), "content": c.text(f"{item}.messages.content")},
            {
                "role": "assistant",
                "content": c.text(f"{item}.messages.content2", markdown=False),
                "name": c.text(f"{item}.messages.extra", markdown=False),
            },
            {"role": "user", "content": {"nested": c.text(f"{item}.messages.json", markdown=False)}},
        ],
        "response": c.text(f"{item}.response"),
        "trace": [
            {"kind": "thought", "content": c.text(f"{item}.trace.thought")},
            {
                "kind": "tool_call",
                "name": c.one(f"{item}.trace.tool_name", 0),
                "args": {"cmd": c.text(f"{item}.trace.args", markdown=False)},
            },
            {"kind": "tool_call", "name": "bash", "args": c.text(f"{item}.trace.args_text", markdown=False)},
            {
                "kind": "tool_output",
                "name": c.one(f"{item}.trace.output_name", 2),
                "content": c.text(f"{item}.trace.output", markdown=False),
            },
            {"kind": c.one(f"{item}.trace.kind", 3), "content": c.text(f"{item}.trace.unknown_kind")},
            c.text(f"{item}.trace.bare_step", markdown=False),
        ],
        "solution": c.text(f"{item}.solution", markdown=False),  # code by field name
        "tests": c.text(f"{item}.tests", markdown=False),
        "environment": "FROM python:3.12\n" + c.text(f"{item}.environment", markdown=False),
        "diff": "diff --git a/x b/x\n" + c.text(f"{item}.diff", markdown=False),
        "code_guess": "def f():\n    return 1\nimport os\n" + c.text(f"{item}.code_guess", markdown=False),
        c.one(f"{item}.key", 4): c.text(f"{item}.hostile_key_value"),  # a hostile field name
        "nested": {"deep": [c.text(f"{item}.nested", markdown=False), 1, None, True]},
        "scalar": 3,
    }


def _rubric_build(c: Corpus, staff):
    """The hostile rubric: every kind of scale, with hostile titles, anchors, choices and units."""
    criteria = [
        {
            "key": "works",
            "title": c.text("criterion.title.works", limit=200, markdown=False),
            "description": c.text("criterion.description.works"),
            "scale": {
                "kind": "binary",
                "labels": {"true": c.text("criterion.anchor.true"), "false": c.text("criterion.anchor.false")},
            },
            "gate": True,
        },
        {
            "key": "quality",
            "title": c.text("criterion.title.quality", limit=200, markdown=False),
            "description": c.text("criterion.description.quality"),
            "rationale_required": True,
            "scale": {
                "kind": "ordinal",
                "min": 1,
                "max": 3,
                "labels": {str(n): c.text(f"criterion.anchor.{n}") for n in (1, 2, 3)},
            },
        },
        {
            "key": "rejection_reason",
            "title": "Rejection reason",
            "required": False,
            "scale": {
                "kind": "categorical",
                "choices": [c.one("criterion.choice.reason", i) for i in range(len(PAYLOADS))],
            },
        },
        {
            "key": "failure_mode",
            "title": "Failure mode",
            "required": False,
            "scale": {
                "kind": "categorical",
                "choices": [c.one("criterion.choice.mode", i) for i in range(len(PAYLOADS))],
            },
        },
        {
            "key": "score",
            "title": "Score",
            "required": False,
            "scale": {"kind": "interval", "min": 0, "max": 10, "labels": {"0": c.text("criterion.interval_anchor")}},
        },
        {
            "key": "cost",
            "title": "Cost",
            "required": False,
            "scale": {"kind": "ratio", "unit": c.text("criterion.unit", markdown=False)},
        },
        {
            "key": "notes",
            "title": c.text("criterion.title.notes", limit=200, markdown=False),
            "required": False,
            "scale": {"kind": "text"},
        },
    ]
    version = rubric_create(
        actor=staff,
        name=c.text("rubric.name", limit=200, markdown=False),
        instructions=c.text("rubric.instructions"),
        criteria=criteria,
    )
    reason = version.criteria.get(key="rejection_reason").scale["choices"]
    # An anchor per categorical choice, on the first choices (labels are keyed by the choice).
    criterion = version.criteria.get(key="rejection_reason")
    criterion.scale["labels"] = {choice: c.text(f"criterion.choice_anchor.{i}") for i, choice in enumerate(reason[:3])}
    criterion.save(update_fields=["scale"])
    modes = version.criteria.get(key="failure_mode").scale["choices"]
    return version, reason, modes


def _judge_build(c: Corpus, manager, tasks, version, disputed, open_item):
    """A judge with a hostile name, prompt and URL, its rating of ``disputed`` and a failed run with a
    sample and two verdicts (one failed, on ``open_item``)."""
    judge = judge_create(
        actor=manager,
        project=tasks,
        name=c.text("judge.name", limit=150, markdown=False),
        provider="openai_compatible",
        model=c.text("judge.model", limit=200, markdown=False),
        base_url="http://127.0.0.1:9/v1",
        system_prompt=c.text("judge.system_prompt"),
    )
    version_row = judge.current_version()
    # A URL the API refuses (judges.services.judges checks base_url), written straight to the row.
    JudgeVersion.objects.filter(pk=version_row.pk).update(base_url=c.one("judge.base_url", 4))
    judge_rating = rating_submit(
        item=disputed,
        rater=version_row.rater,
        source="judge",
        values={"works": True, "quality": 2},
        rationales={"quality": c.text("judge.rationale")},
    )
    run = JudgeRun.objects.create(
        project=tasks,
        judge_version=version_row,
        rubric_version=version,
        status=RunStatus.FAILED,
        items_selector="all",
        total=1,
        error=c.text("judge_run.error", markdown=False),
        created_by=manager,
    )
    of_run = {"judge_version": version_row, "rubric_version": version, "run": run}
    # Run in batch mode: the run page shows its batch's state and the provider's words for it.
    JudgeRun.objects.filter(pk=run.pk).update(mode=RunMode.BATCH)
    JudgeBatch.objects.create(
        run=run,
        index=0,
        provider="openai",
        item_ids=[disputed.pk],
        marker="xss-batch",
        status=BatchStatus.FAILED,
        provider_status=c.text("judge_batch.provider_status", limit=30, markdown=False),
        error=c.text("judge_batch.error", markdown=False),
    )
    JudgeSample.objects.create(
        item=disputed,
        sample_index=0,
        outcome=Outcome.OK,
        rationales={"quality": c.text("judge_sample.rationale")},
        raw_output=c.text("judge_sample.raw_output", markdown=False),
        reason=c.text("judge_sample.reason"),
        **of_run,
    )
    JudgeVerdict.objects.create(
        item=disputed, outcome=Outcome.OK, rating=judge_rating, reason=c.text("judge_verdict.reason"), **of_run
    )
    # A failed verdict: its reason is listed on the run page ("why items were not rated").
    JudgeVerdict.objects.create(
        item=open_item, outcome=Outcome.FAILED, reason=c.text("judge_verdict.failed_reason"), **of_run
    )
    return judge, run


def world_build() -> World:
    corpus = Corpus()
    c = corpus
    staff = _user(c, "staff", 0, is_staff=True, is_superuser=True)
    users = {"staff": staff}
    for i, role in enumerate(("manager", "reviewer", "annotator", "annotator2", "outsider"), start=1):
        users[role] = _user(c, role, i)
    version, reason, modes = _rubric_build(c, staff)

    tasks = project_create(
        actor=users["manager"],
        name=c.text("project.name", limit=200, markdown=False),
        rubric=version,
        guidelines=c.text("project.guidelines"),
        annotations_per_item=3,
    )
    traces = project_create(
        actor=users["manager"],
        name=c.text("project.traces.name", limit=200, markdown=False),
        rubric=version,
        guidelines=c.text("project.traces.guidelines"),
        tasks_project=tasks,
    )
    empty = project_create(
        actor=users["manager"],
        name=c.text("project.empty.name", limit=200, markdown=False),
        rubric=version,
    )
    # More project names: the home page lists them all.
    for i in range(len(PAYLOADS)):
        project_create(actor=users["manager"], name=c.one("project.name.each", i), rubric=version)
    for project in (tasks, traces, empty):
        membership_set(project=project, user=users["reviewer"], role=Role.REVIEWER)
        membership_set(project=project, user=users["annotator"], role=Role.ANNOTATOR)
        membership_set(project=project, user=users["annotator2"], role=Role.ANNOTATOR)

    external = [c.text(f"item.external_id.{n}", limit=255, markdown=False) for n in range(5)]
    items_import(
        project=tasks,
        rows=[
            {
                "external_id": external[n],
                "data": _all_shapes(c, f"item{n}"),
                "metadata": {"note": c.text(f"item{n}.metadata", markdown=False), "pass_rate": 0.5, "tool_calls": 3},
            }
            for n in range(5)
        ],
    )
    items_import(
        project=traces,
        rows=[
            {
                "external_id": c.one("trace.external_id", i),
                "metadata": {"pass_rate": 1, "output_tokens": 10},
                "data": {
                    "task": external[2 + i % 2],
                    "trace": [{"kind": "thought", "content": c.text(f"trace{i}.thought")}],
                },
            }
            for i in range(len(PAYLOADS))
        ],
    )
    disputed, open_item, accepted, rejected, skipped = (tasks.items.get(external_id=e) for e in external)

    # Two people and a judge disagree on ``disputed``: it is on the review page.
    for person, quality in ((users["annotator"], 1), (users["annotator2"], 3)):
        assignment_claim_next(project=tasks, user=person)
        rating_submit(
            item=disputed,
            rater=rater_for_user(user=person),
            values={
                "works": quality == 3,
                "quality": quality,
                "rejection_reason": reason[quality],
                "notes": c.text(f"rating.text_value.{person.pk}"),
            },
            rationales={"quality": c.text(f"rating.rationale.{person.pk}")},
        )
    # annotator2 corrects their rating: the old values and rationale stay in its history.
    rating_change(
        item=disputed,
        rater=rater_for_user(user=users["annotator2"]),
        values={"works": False, "quality": 2, "rejection_reason": reason[2], "notes": c.text("rating.changed_text")},
        rationales={"quality": c.text("rating.changed_rationale")},
    )
    judge, run = _judge_build(c, users["manager"], tasks, version, disputed, open_item)
    Item.objects.filter(pk=disputed.pk).update(
        status=ItemStatus.NEEDS_REVIEW, decision_reason=c.text("item.decision_reason")
    )

    # The annotator's open item, with a hostile draft restored into the form.
    lease = assignment_claim_next(project=tasks, user=users["annotator"])
    assert lease is not None and lease.item_id == open_item.pk, "the annotator must be offered open_item"
    draft_save(
        item=open_item,
        user=users["annotator"],
        seconds_spent=3,
        values={"notes": c.text("draft.text_value")},
        rationales={"quality": c.text("draft.rationale"), "works": c.text("draft.rationale2")},
    )

    # The annotator rated ``skipped`` too, and a reviewer sent it back with a hostile note: the
    # annotator's recent list and the item's page show it.
    rating_submit(
        item=skipped,
        rater=rater_for_user(user=users["annotator"]),
        values={"works": True, "quality": 2, "notes": c.text("rating.sent_back_text")},
        rationales={"quality": c.text("rating.sent_back_rationale")},
    )
    item_send_back(item=skipped, reviewer=users["reviewer"], note=c.text("send_back.note"))

    # Decided tasks: accepted (with gold) and rejected, so the tasks page has both buckets.
    gold_set(
        item=accepted,
        reviewer=users["reviewer"],
        values={"works": True, "quality": 3},
        rationales={"quality": c.text("gold.rationale")},
        note=c.text("gold.note"),
    )
    Item.objects.filter(pk=accepted.pk).update(
        status=ItemStatus.APPROVED,
        approved_by="reviewer",
        decided_at=timezone.now(),
        consensus={"works": True, "quality": 3},
        decision_reason=c.text("item.decision_reason.accepted"),
    )
    Item.objects.filter(pk=rejected.pk).update(consensus={"works": False, "rejection_reason": reason[5]})
    item_reject(item=rejected, actor=users["manager"], reason=c.text("item.reject_reason"))
    Skip.objects.create(
        project=tasks, item=skipped, user=users["annotator2"], reason=c.text("skip.reason", limit=500, markdown=False)
    )
    for i, trace in enumerate(traces.items.order_by("id")):
        Item.objects.filter(pk=trace.pk).update(
            status=ItemStatus.APPROVED, approved_by="consensus", consensus={"failure_mode": modes[i % len(modes)]}
        )

    snapshot = ExportSnapshot.objects.create(
        project=tasks,
        requested_by=users["manager"],
        format="jsonl",
        params={},
        status="failed",
        error=c.text("export_snapshot.error", markdown=False),
    )
    Group.objects.create(name=c.text("group.name", limit=150, markdown=False))
    items = {"disputed": disputed, "open": open_item, "accepted": accepted, "rejected": rejected, "skipped": skipped}
    manage = manage_world_build(c, users=users, tasks=tasks, traces=traces, version=version, items=items)
    token_name = c.text("api_token.name", limit=100, markdown=False)  # listed on the account page
    tokens = [api_token_create(user=u, name=token_name)[1] for u in users.values()]
    return World(
        corpus=corpus,
        users=users,
        tasks=tasks,
        traces=traces,
        empty=empty,
        items=items,
        judge=judge,
        run=run,
        snapshot=snapshot,
        rubric_version=version,
        tokens=tokens,
        manage=manage,
    )
