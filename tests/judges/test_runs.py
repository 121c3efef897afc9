"""Judge runs against the fake provider server, through the real SDKs (nothing patched)."""

import json

import pytest

from annotation.models import ItemStatus, RaterKind, Rating, RatingSource
from judges.models import JudgeSample, JudgeVerdict, Outcome, RunStatus
from testbed import Reply
from tests.judges.conftest import KEY_ENV, run_chunks, run_now

pytestmark = pytest.mark.django_db


def _judge_ratings(judge):
    return Rating.objects.filter(rater=judge.current_version().rater)


def test_it_judges_every_item_with_openai_structured_output(llm, project, items, make_judge):
    judge = make_judge(
        "openai", temperature=0.3, max_output_tokens=700, price_input_per_mtok=2, price_output_per_mtok=8
    )
    run = run_now(project=project, judge=judge)

    assert run.status == RunStatus.SUCCEEDED
    assert (run.total, run.done, run.failed, run.no_verdict) == (5, 5, 0, 0)
    assert run.input_tokens > 0 and run.output_tokens > 0
    ratings = _judge_ratings(judge)
    assert ratings.count() == 5
    version = judge.current_version()
    for rating in ratings:
        assert rating.source == RatingSource.JUDGE
        assert rating.rater.kind == RaterKind.JUDGE and rating.rater.name == "openai judge v1"
        assert rating.rubric_version_id == project.rubric_version_id
        assert 1 <= rating.values["helpfulness"] <= 5 and rating.rationales["helpfulness"]
    assert JudgeVerdict.objects.filter(judge_version=version, outcome=Outcome.OK, rating__isnull=False).count() == 5

    body = llm.requests[0].json
    assert body["model"] == "openai-judge" and body["temperature"] == 0.3
    assert body["max_completion_tokens"] == 700
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert set(fmt["json_schema"]["schema"]["required"]) == {"helpfulness", "correct", "tone", "notes"}
    assert llm.requests[0].headers["authorization"] == "Bearer test-key"
    # Judge ratings never move items along the human queue.
    assert set(project.items.values_list("status", flat=True)) == {ItemStatus.PENDING}


def test_it_judges_with_anthropic_through_a_forced_tool_call(llm, project, items, make_judge):
    judge = make_judge("anthropic", temperature=0.0, max_output_tokens=800)
    run = run_now(project=project, judge=judge)

    assert run.status == RunStatus.SUCCEEDED and run.done == 5
    assert _judge_ratings(judge).count() == 5
    request = llm.requests[0]
    assert request.provider == "anthropic"
    body = request.json
    assert body["tool_choice"] == {"type": "tool", "name": "record_verdict"}
    assert body["tools"][0]["input_schema"]["properties"]["tone"]["properties"]["value"]["enum"] == ["ok", "rude"]
    assert body["temperature"] == 0.0 and body["max_tokens"] == 800
    assert "Rate it." in request.system  # the rubric's instructions


def test_it_judges_with_an_openai_compatible_server(llm, project, items, make_judge):
    judge = make_judge("openai_compatible", model="llama3.1:8b", api_key_env="")
    run = run_now(project=project, judge=judge)

    assert run.status == RunStatus.SUCCEEDED and run.done == 5
    body = llm.requests[0].json
    assert body["max_tokens"] == 1024 and "max_completion_tokens" not in body
    assert body["model"] == "llama3.1:8b"


def test_it_honours_retry_after_on_429(llm, project, items, make_judge):
    judge = make_judge("openai")
    llm.script(Reply.error(429, headers={"retry-after": "0.4"}))
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert run.done == 1 and _judge_ratings(judge).count() == 1
    first, second = llm.requests
    assert second.received_at - first.received_at >= 0.4
    assert JudgeSample.objects.get().attempts == 2


def test_it_honours_retry_after_ms_over_retry_after(llm, project, items, make_judge):
    judge = make_judge("anthropic")
    llm.script(Reply.error(429, headers={"retry-after": "5", "retry-after-ms": "300"}))
    run = run_now(project=project, judge=judge, items=[items[0].id])

    first, second = llm.requests
    assert 0.3 <= second.received_at - first.received_at < 2
    assert run.done == 1


@pytest.mark.parametrize(
    ("provider", "status"), [("openai", 500), ("openai", 503), ("anthropic", 529), ("anthropic", 500)]
)
def test_it_retries_server_errors_and_overload(llm, project, items, make_judge, provider, status):
    judge = make_judge(provider)
    llm.script(Reply.error(status, headers={}), Reply.error(status, headers={}))
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert run.done == 1 and llm.count() == 3


def test_it_retries_timeouts_and_dropped_connections(llm, project, items, make_judge, settings):
    settings.JUDGES_REQUEST_TIMEOUT = 0.3
    judge = make_judge("openai")
    llm.script(Reply.delay(1.0), Reply.disconnect())
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert run.done == 1 and llm.count() == 3


def test_it_gives_up_after_bounded_transient_retries(llm, project, items, make_judge, settings):
    settings.JUDGES_TRANSIENT_RETRIES = 2
    judge = make_judge("openai")
    llm.fault_rate(503, rate=1.0, retry_after=None)
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert llm.count() == 3
    verdict = JudgeVerdict.objects.get()
    assert verdict.outcome == Outcome.FAILED and "503" in verdict.reason and verdict.rating is None
    assert run.status == RunStatus.FAILED and run.failed == 1
    assert not _judge_ratings(judge).exists()


def test_it_does_not_retry_other_client_errors(llm, project, items, make_judge):
    judge = make_judge("openai")
    llm.script(Reply.error(400, headers={}, message="bad request"))
    run_now(project=project, judge=judge, items=[items[0].id])

    assert llm.count() == 1
    sample = JudgeSample.objects.get()
    assert sample.outcome == Outcome.FAILED and "400" in sample.reason and "bad request" in sample.raw_output


def test_it_stops_the_chunk_on_an_authentication_error(llm, project, items, make_judge, settings):
    settings.JUDGES_CONCURRENCY = 1
    settings.JUDGES_CHUNK_SIZE = 10
    judge = make_judge("anthropic")
    llm.script(Reply.error(401, headers={}))
    run = run_now(project=project, judge=judge)

    assert llm.count() == 1  # the other four items were not sent with a key the provider refuses
    assert run.failed == 5 and run.status == RunStatus.FAILED


def test_it_fails_items_when_the_key_variable_is_not_set(llm, project, items, make_judge, monkeypatch):
    judge = make_judge("openai")
    monkeypatch.delenv(KEY_ENV)
    run = run_now(project=project, judge=judge)

    assert llm.count() == 0 and run.failed == 5
    assert KEY_ENV in JudgeVerdict.objects.first().reason


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_max_tokens_stop_is_no_verdict_and_not_asked_again(llm, project, items, make_judge, provider):
    judge = make_judge(provider)
    llm.script(Reply.truncated())
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert llm.count() == 1  # the same budget would mostly stop in the same place
    sample = JudgeSample.objects.get()
    assert sample.outcome == Outcome.NO_VERDICT and sample.values == {}
    assert sample.reason.startswith("max_tokens") and "max_output_tokens" in sample.reason
    assert sample.raw_output  # the partial answer, kept for inspection
    verdict = JudgeVerdict.objects.get()
    assert verdict.outcome == Outcome.NO_VERDICT and verdict.rating is None
    assert run.no_verdict == 1 and run.failed == 0 and not _judge_ratings(judge).exists()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_it_fails_cut_off_output_after_bounded_retries(llm, project, items, make_judge, provider):
    judge = make_judge(provider)
    # No max-tokens stop: just invalid (three different answers: an identical one is not asked again).
    llm.script(*(Reply.text('{"helpfulness": {"rationale": "clear and compl' + "e" * n) for n in range(3)))
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert llm.count() == 3  # JUDGES_OUTPUT_RETRIES = 2
    sample = JudgeSample.objects.get()
    assert sample.outcome == Outcome.FAILED and sample.reason.startswith("invalid output")
    assert sample.raw_output.startswith('{"helpfulness"')
    assert run.failed == 1 and not _judge_ratings(judge).exists()


def test_it_never_coerces_out_of_range_values(llm, project, items, make_judge):
    judge = make_judge("openai")
    bad = {
        "helpfulness": {"rationale": "great", "value": 9},
        "correct": {"rationale": "yes", "value": "yes"},
        "tone": {"rationale": "fine", "value": "ok"},
        "notes": {"rationale": "", "value": None},
    }
    llm.script(*(Reply.json({**bad, "tone": {"rationale": f"fine {n}", "value": "ok"}}) for n in range(3)))
    run = run_now(project=project, judge=judge, items=[items[0].id])

    sample = JudgeSample.objects.get()
    assert sample.outcome == Outcome.FAILED and sample.attempts == 3
    assert "helpfulness" in sample.reason and "correct" in sample.reason
    assert json.loads(sample.raw_output)["helpfulness"]["value"] == 9
    assert sample.values == {}
    assert run.failed == 1 and not _judge_ratings(judge).exists()


def test_it_accepts_a_valid_answer_after_an_invalid_one(llm, project, items, make_judge):
    judge = make_judge("openai")
    llm.script(Reply.text("Sure! Here is my verdict: {helpfulness: 4"))
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert run.done == 1 and llm.count() == 2
    assert JudgeSample.objects.get().attempts == 2


@pytest.mark.parametrize(
    ("provider", "reply"),
    [("openai", Reply.refusal()), ("openai", Reply.content_filter()), ("anthropic", Reply.refusal())],
)
def test_it_records_no_verdict_on_refusal_and_leaves_the_item_to_people(
    llm, project, items, make_judge, provider, reply
):
    judge = make_judge(provider)
    llm.script(reply)
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert llm.count() == 1  # not asked again
    verdict = JudgeVerdict.objects.get()
    assert verdict.outcome == Outcome.NO_VERDICT and verdict.rating is None
    assert run.no_verdict == 1 and run.status == RunStatus.SUCCEEDED
    assert not _judge_ratings(judge).exists()
    items[0].refresh_from_db()
    assert items[0].status == ItemStatus.PENDING


def _answer(helpfulness, correct, tone, why="because"):
    return Reply.json(
        {
            "helpfulness": {"rationale": f"{why} {helpfulness}", "value": helpfulness},
            "correct": {"rationale": why, "value": correct},
            "tone": {"rationale": why, "value": tone},
            "notes": {"rationale": "", "value": None},
        }
    )


def test_it_aggregates_samples_by_median_and_majority_keeping_the_spread(llm, project, items, make_judge):
    judge = make_judge("openai", samples=3)
    llm.script(_answer(2, True, "ok"), _answer(5, False, "rude"), _answer(4, True, "rude"))
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert run.done == 1 and JudgeSample.objects.count() == 3
    rating = _judge_ratings(judge).get()
    assert rating.values == {"helpfulness": 4, "correct": True, "tone": "rude"}
    assert rating.rationales["helpfulness"] == "because 4"
    spread = JudgeVerdict.objects.get().spread
    assert spread["helpfulness"] == {"min": 2, "max": 5, "n": 3}
    assert spread["correct"] == {"counts": {"true": 2, "false": 1}, "agreement": 0.6667}
    assert spread["samples"] == {"ok": 3, "total": 3}


def test_it_aggregates_when_most_samples_are_valid(llm, project, items, make_judge):
    judge = make_judge("anthropic", samples=3)
    llm.script(_answer(3, True, "ok"), Reply.refusal(), _answer(1, True, "ok"))
    run = run_now(project=project, judge=judge, items=[items[0].id])

    assert run.done == 1
    assert _judge_ratings(judge).get().values["helpfulness"] == 1  # lower median of (3, 1)
    assert JudgeVerdict.objects.get().spread["samples"] == {"ok": 2, "total": 3}


def test_it_only_does_the_missing_work_when_a_chunk_runs_again(llm, project, items, make_judge):
    judge = make_judge("openai", samples=2)
    run = run_now(project=project, judge=judge)
    assert llm.count() == 10

    # As if the worker died after writing item 0's first sample and before the rest.
    version = judge.current_version()
    JudgeVerdict.objects.filter(item=items[0]).delete()
    Rating.objects.filter(item=items[0], rater=version.rater).delete()
    JudgeSample.objects.filter(item=items[0], sample_index=1).delete()
    run.chunks.update(finished_at=None)
    type(run).objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    run_chunks(run)
    run_chunks(run)  # and a duplicate delivery on top

    assert llm.count() == 11
    assert _judge_ratings(judge).count() == 5
    assert JudgeSample.objects.count() == 10
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == 5


def test_it_retries_failed_items_in_the_next_run_and_skips_rated_ones(llm, project, items, make_judge):
    judge = make_judge("openai")
    llm.script(Reply.error(400, headers={}))
    first = run_now(project=project, judge=judge, items=[items[0].id, items[1].id])
    assert first.done + first.failed == 2 and first.failed == 1

    second = run_now(project=project, judge=judge, items="all")
    assert second.total == 4  # item rated in the first run is not asked again; the failed one is
    assert _judge_ratings(judge).count() == 5
    assert JudgeVerdict.objects.filter(outcome=Outcome.OK).count() == 5


def test_it_hides_judge_ratings_from_blind_annotators(llm, project, items, make_judge, members, client_for):
    judge = make_judge("openai")
    run_now(project=project, judge=judge, items=[items[0].id])
    url = f"/api/v1/items/{items[0].id}/ratings/"

    annotator = client_for(members["annotator"]).get(url)
    reviewer = client_for(members["reviewer"]).get(url)
    assert annotator.status_code == 200 and annotator.json() == []
    assert [r["rater_kind"] for r in reviewer.json()] == ["judge"]


def test_it_leaves_failed_items_alone_when_judging_only_unjudged_ones(llm, project, items, make_judge):
    judge = make_judge("openai")
    llm.script(Reply.error(400, headers={}))
    run_now(project=project, judge=judge, items=[items[0].id, items[1].id])

    second = run_now(project=project, judge=judge, items="unjudged")
    assert second.total == 3 and second.done == 3
    assert JudgeVerdict.objects.filter(outcome=Outcome.FAILED).count() == 1
