"""The writer of a chunk's results, on whichever database the suite runs (PostgreSQL: the unnest
statements; SQLite: the ORM): keyed, idempotent, and a verdict always points at its rating."""

import pytest
from django.db.models import NOT_PROVIDED

from annotation.models import Rating
from judges.executor import Result
from judges.models import JudgeSample, JudgeVerdict, Outcome
from judges.services.runs import judge_run_start
from judges.services.verdicts import FAST_PATH_FIELDS, ResultWriter
from rubrics.scales import CriterionSpec

pytestmark = pytest.mark.django_db

VALUES = {"helpfulness": 4, "correct": True, "tone": "ok"}
RATIONALES = {"helpfulness": "Answers the question, with one caveat «ü»."}


def _writer(run, *, samples=1):
    rows = run.rubric_version.criteria.all()
    criteria = [CriterionSpec(c.key, c.scale, c.rationale_required, c.required) for c in rows]
    return ResultWriter(run=run, criteria=criteria, samples=samples, have={})


def _results(items):
    return [
        Result(items[0].id, 0, Outcome.OK, dict(VALUES), dict(RATIONALES), '{"raw": 1}', "", 2, 700, 90),
        Result(items[1].id, 0, Outcome.NO_VERDICT, raw_output="I can't.", reason="refusal: the model refused"),
        Result(items[2].id, 0, Outcome.FAILED, raw_output="{", reason="invalid output: not JSON", attempts=3),
    ]


@pytest.fixture
def run(project, items, make_judge):
    return judge_run_start(actor=None, project=project, judge=make_judge("openai"), items="all")


def test_it_writes_samples_ratings_and_verdicts(run, items):
    writer = _writer(run)
    writer.add(_results(items))
    assert writer.flush() == 3

    sample = JudgeSample.objects.get(item=items[0])
    assert (sample.run_id, sample.outcome, sample.values, sample.rationales) == (run.pk, "ok", VALUES, RATIONALES)
    assert (sample.raw_output, sample.attempts, sample.input_tokens, sample.output_tokens) == ('{"raw": 1}', 2, 700, 90)
    assert sample.created_at is not None
    rating = Rating.objects.get()
    assert (rating.item_id, rating.rater_id, rating.source) == (items[0].id, run.judge_version.rater_id, "judge")
    assert rating.values == VALUES and rating.rationales == RATIONALES
    assert rating.rubric_version_id == run.rubric_version_id and rating.seconds_spent is None
    verdicts = {v.item_id: v for v in JudgeVerdict.objects.all()}
    assert verdicts[items[0].id].rating_id == rating.id and verdicts[items[0].id].outcome == Outcome.OK
    assert verdicts[items[0].id].spread["samples"] == {"ok": 1, "total": 1}
    assert verdicts[items[1].id].outcome == Outcome.NO_VERDICT and verdicts[items[1].id].rating_id is None
    assert verdicts[items[1].id].reason == "refusal: the model refused"
    assert verdicts[items[2].id].outcome == Outcome.FAILED and verdicts[items[2].id].reason.startswith("invalid")
    assert all(v.run_id == run.pk and v.updated_at is not None for v in verdicts.values())


def test_it_writes_nothing_twice_and_keeps_the_stored_rating(run, items):
    first = _writer(run)
    first.add(_results(items))
    first.flush()
    rating_id = Rating.objects.get().id
    # A second worker holding the same results (redelivery after a visibility timeout) writes them
    # again; and a verdict lost on its own must point at the rating already stored.
    JudgeVerdict.objects.filter(item=items[0]).delete()
    second = _writer(run)
    second.add(_results(items))
    assert second.flush() == 3

    assert JudgeSample.objects.count() == 3 and Rating.objects.count() == 1 and JudgeVerdict.objects.count() == 3
    assert JudgeVerdict.objects.get(item=items[0]).rating_id == rating_id


def test_it_waits_for_every_sample_of_an_item(run, items):
    writer = _writer(run, samples=2)
    writer.add([Result(items[0].id, 0, Outcome.OK, dict(VALUES), dict(RATIONALES))])
    assert writer.flush() == 0
    assert JudgeSample.objects.count() == 1 and not JudgeVerdict.objects.exists()

    writer.add([Result(items[0].id, 1, Outcome.OK, {**VALUES, "helpfulness": 2}, dict(RATIONALES))])
    assert writer.flush() == 1
    assert Rating.objects.get().values["helpfulness"] == 2  # lower median of (4, 2)
    assert JudgeVerdict.objects.get().spread["samples"] == {"ok": 2, "total": 2}


@pytest.mark.parametrize("model", list(FAST_PATH_FIELDS))
def test_the_postgresql_statements_write_every_column(model):
    # A field added to one of these models must be added to the statements too (or get a database
    # default); otherwise PostgreSQL deployments would store it empty, or fail, while SQLite passes.
    fields = {f.name for f in model._meta.concrete_fields if not f.primary_key and f.db_default is NOT_PROVIDED}
    assert set(FAST_PATH_FIELDS[model]) == fields
