"""Few-shot examples: trusted answers (gold, unanimous people), spread over the scale, never the judged item."""

import re

import pytest

from annotation.models import Gold
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.ratings import rating_submit
from judges.fewshot import fewshot_pool, spread_pick
from judges.selectors import judge_fewshot_item_ids
from rubrics.models import Criterion
from tests.judges.conftest import run_now

pytestmark = pytest.mark.django_db


def _gold(item, helpfulness, staff):
    Gold.objects.create(
        item=item,
        rubric_version=item.project.rubric_version,
        values={"helpfulness": helpfulness, "correct": True, "tone": "ok"},
        rationales={"helpfulness": f"gold {helpfulness}"},
        reviewer=staff,
    )


def test_it_spreads_examples_over_the_scale(project, staff):
    items_import(project=project, rows=[{"external_id": f"g{i}", "data": {"prompt": f"g{i}"}} for i in range(6)])
    gold_items = list(project.items.order_by("id"))
    for item, value in zip(gold_items, [1, 1, 1, 1, 5, 3], strict=True):
        _gold(item, value, staff)

    pool = fewshot_pool(project=project, k=2)
    assert len(pool) == 3
    assert sorted(e["values"]["helpfulness"] for e in pool) == [1, 3, 5]
    assert all(e["source"] == "gold" and e["data"] == {"prompt": e["data"]["prompt"]} for e in pool)


def test_it_uses_unanimous_human_ratings_but_not_split_ones(project, items, members):
    a, b = rater_for_user(user=members["annotator"]), rater_for_user(user=members["annotator2"])
    same = {"helpfulness": 2, "correct": False, "tone": "rude"}
    rationale = {"helpfulness": "meh"}
    rating_submit(item=items[0], rater=a, values=same, rationales=rationale)
    rating_submit(item=items[0], rater=b, values=same, rationales=rationale)
    rating_submit(item=items[1], rater=a, values=same, rationales=rationale)
    rating_submit(item=items[1], rater=b, values={**same, "helpfulness": 3}, rationales=rationale)

    pool = fewshot_pool(project=project, k=3)
    assert [(e["item_id"], e["source"]) for e in pool] == [(items[0].id, "unanimous")]


def test_it_round_robins_in_scale_order():
    criteria = [Criterion(key="tone", scale={"kind": "categorical", "choices": ["a", "b", "c"]})]
    candidates = [{"item_id": i, "source": "gold", "values": {"tone": t}} for i, t in enumerate("cccab")]
    assert [c["values"]["tone"] for c in spread_pick(candidates, criteria=criteria, count=4)] == ["a", "b", "c", "c"]


def test_it_never_shows_a_judge_the_item_it_is_rating(llm, project, items, make_judge, staff):
    for item, value in zip(items[:3], [1, 3, 5], strict=True):
        _gold(item, value, staff)
    judge = make_judge("openai", few_shot=2)
    run = run_now(project=project, judge=judge)

    assert run.done == 5 and len(run.fewshot) == 3
    assert judge_fewshot_item_ids(judge_version=judge.current_version()) == {i.id for i in items[:3]}
    for request in llm.requests:
        user = request.last_user_text
        judged = re.search(r'"prompt": "(p\d)"', user.split("<item_data")[1]).group(1)
        examples = re.findall(r'"prompt": "(p\d)"', user.split("<item_data")[0])
        assert len(examples) == 2 and judged not in examples


def test_it_holds_the_example_items_out_of_the_judges_calibration(llm, project, items, make_judge, staff):
    from annotation.models import Rater
    from quality.models import RaterTrust
    from quality.services.policy import policy_update
    from quality.services.trust import rater_trust_refresh

    _gold(items[0], 5, staff)
    _gold(items[1], 1, staff)
    judge = make_judge(few_shot=2)
    run_now(project=project, judge=judge)
    rater = Rater.objects.get(pk=judge.current_version().rater_id)
    assert set(rater.shown_item_ids) == {items[0].id, items[1].id}
    assert judge_fewshot_item_ids(judge_version=judge.current_version()) == set(rater.shown_item_ids)

    # The run's end re-measures trust (a Celery task); done here directly. With no human ratings
    # there is no bar to compare with, so the judge is not trusted on anything.
    policy_update(project=project, trust_min_items=1)
    rater_trust_refresh(project=project)
    assert not RaterTrust.objects.filter(rater=rater, trusted=True).exists()
