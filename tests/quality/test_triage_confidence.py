"""A judge verdict's distribution and confidence (judges/uncertainty.py), written with its rating,
and calibration on held-out gold per judge version (quality/selectors/calibration.py)."""

import math

import pytest

from annotation.models import Gold, Rater, RaterKind, Rating
from judges.uncertainty import verdict_distribution
from quality.selectors.calibration import judge_calibration
from rubrics.scales import CriterionSpec, point_label
from testbed.llm_replies import Reply
from tests.conftest import CRITERIA
from tests.judges.conftest import _judge_settings, llm, llm_server, make_judge, run_now  # noqa: F401 (fixtures)

SPECS = [
    CriterionSpec(c["key"], c["scale"], c.get("rationale_required", False), c.get("required", True)) for c in CRITERIA
]


def answer(helpfulness, correct, tone):
    return Reply.json(
        {
            "helpfulness": {"rationale": f"because {helpfulness}", "value": helpfulness},
            "correct": {"rationale": "because", "value": correct},
            "tone": {"rationale": "because", "value": tone},
            "notes": {"rationale": "", "value": None},
        }
    )


def test_samples_make_a_distribution_and_the_least_sure_criterion_sets_the_confidence():
    samples = [
        {"helpfulness": 2, "correct": True, "tone": "ok"},
        {"helpfulness": 5, "correct": True, "tone": "rude"},
        {"helpfulness": 4, "correct": True, "tone": "ok"},
    ]
    verdict = {"helpfulness": 4, "correct": True, "tone": "ok"}
    distribution, confidence = verdict_distribution(criteria=SPECS, values=verdict, samples=samples)
    third = round(1 / 3, 6)
    assert distribution["helpfulness"] == {"1": 0.0, "2": third, "3": 0.0, "4": third, "5": third}
    assert distribution["correct"] == {"false": 0.0, "true": 1.0}
    assert distribution["tone"] == {"ok": round(2 / 3, 6), "rude": third}
    assert "notes" not in distribution
    assert confidence == third, "P(helpfulness = 4) is the smallest"


def test_log_probabilities_win_over_the_sampled_value_when_present():
    samples = [{"helpfulness": 4, "correct": True, "tone": "ok"}]
    logprobs = [{"correct": {"true": math.log(0.8), "false": math.log(0.2)}, "helpfulness": {"4": math.log(0.6)}}]
    verdict = samples[0]
    distribution, confidence = verdict_distribution(criteria=SPECS, values=verdict, samples=samples, logprobs=logprobs)
    assert distribution["correct"] == {"false": 0.2, "true": 0.8}
    # Top-k: the unreported points share what is left (0.4), each at most the smallest reported (0.6).
    assert distribution["helpfulness"]["4"] == 0.6 and distribution["helpfulness"]["1"] == 0.1
    assert distribution["tone"] == {"ok": 1.0, "rude": 0.0}, "no log-probabilities: the sample's value"
    assert confidence == 0.6


@pytest.mark.django_db
def test_a_judge_run_stores_the_distribution_and_confidence_on_its_ratings(llm, project, items, make_judge):  # noqa: F811
    judge = make_judge("openai", samples=3)
    llm.script(answer(2, True, "ok"), answer(5, False, "rude"), answer(4, True, "rude"))
    run_now(project=project, judge=judge, items=[items[0].id])
    rating = Rating.objects.get(rater=judge.current_version().rater)
    assert rating.values == {"helpfulness": 4, "correct": True, "tone": "rude"}
    # Scripted answers come without log-probabilities: the distribution is the samples'.
    third = round(1 / 3, 6)
    assert rating.distribution["correct"] == {"false": third, "true": round(2 / 3, 6)}
    assert rating.distribution["helpfulness"] == {"1": 0.0, "2": third, "3": 0.0, "4": third, "5": third}
    assert rating.confidence == third, "the three answers disagree on helpfulness (2, 5, 4)"


@pytest.mark.django_db
def test_the_providers_log_probabilities_make_the_distribution(llm, project, items, make_judge):  # noqa: F811
    judge = make_judge("openai", samples=1)
    run_now(project=project, judge=judge, items=[items[0].id])  # the fake's default answer, with logprobs
    rating = Rating.objects.get(rater=judge.current_version().rater)
    from judges.models import JudgeSample

    logprobs = JudgeSample.objects.get().logprobs
    assert set(logprobs["correct"]) == {"true", "false"}, "the fake server reported both points"
    # Both points reported: their probabilities, renormalised over the scale (the rest went to
    # tokens that are not an answer; docs/triage.md, section 1).
    p = {point: math.exp(lp) for point, lp in logprobs["correct"].items()}
    said = point_label({"kind": "binary"}, rating.values["correct"])
    assert rating.distribution["correct"][said] == pytest.approx(p[said] / sum(p.values()), abs=1e-6)
    assert rating.distribution["correct"][said] < 1.0
    for key, probs in rating.distribution.items():
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5), key
    assert rating.confidence == min(
        probs[point_label(scale, rating.values[key])]
        for key, probs in rating.distribution.items()
        for scale in [next(c["scale"] for c in CRITERIA if c["key"] == key)]
    )
    assert rating.confidence < 1.0


@pytest.mark.django_db
def test_calibration_on_held_out_gold_per_judge_version(project, items, members):
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1, shown_item_ids=[items[4].pk])
    version = project.rubric_version
    # Confident (0.9) on five items and right on four of them; the fifth was a few-shot example.
    for n, item in enumerate(items):
        Gold.objects.create(item=item, rubric_version=version, values={"helpfulness": 4, "correct": True, "tone": "ok"})
        said = n != 0
        Rating.objects.create(
            item=item,
            rater=judge,
            rubric_version=version,
            values={"helpfulness": 4, "correct": said, "tone": "ok"},
            distribution={"correct": {"true": 0.9, "false": 0.1} if said else {"true": 0.1, "false": 0.9}},
            confidence=0.9,
            source="judge",
        )
    [entry] = judge_calibration(project=project)
    assert entry["name"] == "judge v1" and entry["overall"]["items"] == 4, "the few-shot item is held out"
    assert entry["overall"]["ece"] == pytest.approx(abs(0.9 - 0.75))
    assert entry["overall"]["gap"] == pytest.approx(0.15), "overconfident"
    assert entry["criteria"]["correct"]["items"] == 4
    assert not entry["enough_items"]


@pytest.mark.django_db
def test_the_dashboard_shows_each_judges_calibration(project, items, members, client):
    test_calibration_on_held_out_gold_per_judge_version(project, items, members)
    client.force_login(members["manager"])
    html = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert 'id="calibration"' in html and 'data-field="ece">0.150<' in html
    assert html.count('class="pt est-human"><title>4 verdicts') == 1, "one bin, at 0.9"


def test_rounded_log_probabilities_that_add_up_to_more_than_one_are_scaled_back():
    samples = [{"helpfulness": 4, "correct": True, "tone": "ok"}]
    logprobs = [{"correct": {"true": math.log(0.9), "false": math.log(0.12)}, "helpfulness": {"4": "garbage"}}]
    distribution, confidence = verdict_distribution(
        criteria=SPECS, values=samples[0], samples=samples, logprobs=logprobs
    )
    assert distribution["correct"]["true"] == pytest.approx(0.9 / 1.02, abs=1e-6)
    assert distribution["helpfulness"]["4"] == 1.0, "unusable log-probabilities: the sample's value"
    assert confidence == pytest.approx(0.9 / 1.02, abs=1e-6)
