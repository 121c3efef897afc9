"""Issue 16, item 4, judges' outputs: a provider's answer goes through the same check as a
person's rating. Run through the loopback fake provider that the real SDK talks to."""

from annotation.models import Rating
from config.untrusted import SURROGATE_MESSAGE
from judges.models import JudgeSample, Outcome
from testbed import Reply
from tests.judges.conftest import _judge_settings, llm, llm_server, make_judge, run_now  # noqa: F401

VERDICT = {
    "helpfulness": {"rationale": "fine \ud800", "value": 4},
    "correct": {"rationale": "yes", "value": True},
    "tone": {"rationale": "calm", "value": "ok"},
    "notes": {"rationale": "", "value": None},
}


def test_a_verdict_with_a_lone_surrogate_is_invalid_output_never_a_rating(llm, project, items, make_judge):  # noqa: F811
    judge = make_judge("openai")
    # Three different answers: at temperature 0 the same answer is not asked for again.
    llm.script(*(Reply.json({**VERDICT, "correct": {"rationale": f"yes {n}", "value": True}}) for n in range(3)))
    run = run_now(project=project, judge=judge, items=[items[0].id])
    sample = JudgeSample.objects.get()
    assert sample.outcome == Outcome.FAILED and sample.attempts == 3
    assert SURROGATE_MESSAGE in sample.reason
    assert run.failed == 1 and not Rating.objects.filter(rater=judge.versions.get().rater).exists()


def test_raw_output_that_cannot_be_stored_is_kept_with_replacement_characters(llm, project, items, make_judge):  # noqa: F811
    judge = make_judge("openai")
    llm.script(*[Reply.text(f"no JSON here {n} \ud800 \x00") for n in range(3)])
    run = run_now(project=project, judge=judge, items=[items[0].id])
    sample = JudgeSample.objects.get()
    assert sample.outcome == Outcome.FAILED and run.failed == 1
    assert sample.raw_output == "no JSON here 2 \ufffd \ufffd"
