"""Judges against a server that behaves like llama-cpp-python's (issue 21): the fake LLM server
refuses json_schema with a 500, ignores integer bounds and serves one request at a time, and the
real openai SDK talks to it. Output modes, the repair turn, the concurrency limit, logprobs."""

import asyncio
import threading

import pytest

from judges.models import Judge, JudgeSample, JudgeVerdict, Outcome, RunStatus
from judges.providers import OpenAIChat, Prompt
from judges.ratelimit import EndpointSlots
from testbed import Reply
from testbed.llm_quirks import LLAMA_CPP, Quirks
from tests.judges.conftest import run_now

REFUSES_SCHEMA = Quirks(refuse_json_schema=True)


def _modes(llm) -> list[str]:
    out = []
    for r in llm.requests:
        fmt = r.json.get("response_format") or {}
        out.append(fmt.get("type") or ("tools" if r.json.get("tools") else "prompt"))
    return out


def test_auto_falls_back_once_from_a_refused_json_schema_and_remembers_the_mode(llm, project, items, make_judge):
    llm.quirks = REFUSES_SCHEMA
    judge = make_judge("openai_compatible")  # output_mode "auto", the default
    run = run_now(project=project, judge=judge)  # 5 items in chunks of 3

    assert run.status == RunStatus.SUCCEEDED and run.done == 5
    # One refused call in the whole run: the first chunk's first call; the 500 naming
    # response_format is not retried as transient, and the second chunk starts at json_object.
    assert _modes(llm).count("json_schema") == 1 and _modes(llm).count("json_object") == 5
    judge.refresh_from_db()
    assert judge.output_mode_found == "json_object"
    assert "json_schema refused" in judge.output_mode_note and "response_format" in judge.output_mode_note
    schema_sent = [r.json["response_format"].get("schema") for r in llm.requests if r.json.get("response_format")]
    assert schema_sent[-1]["properties"]["helpfulness"]["properties"]["value"]["maximum"] == 5  # llama.cpp's field


def test_a_refused_fixed_mode_fails_the_run_at_once_with_the_servers_message(llm, project, items, make_judge):
    llm.quirks = REFUSES_SCHEMA
    judge = make_judge("openai_compatible", output_mode="json_schema")
    run = run_now(project=project, judge=judge)

    assert llm.count() == 1  # nothing retried, the second chunk sends nothing
    assert run.status == RunStatus.FAILED and run.failed == 5
    assert "refused the request (json_schema output mode)" in run.error and "json_object" in run.error
    reasons = set(JudgeVerdict.objects.values_list("reason", flat=True))
    assert len(reasons) == 1 and "Input should be 'text' or 'json_object'" in reasons.pop()


@pytest.mark.parametrize("mode", ["tools", "prompt", "json_object"])
def test_every_output_mode_gets_verdicts(llm, project, items, make_judge, mode):
    judge = make_judge("openai_compatible", output_mode=mode)
    run = run_now(project=project, judge=judge)
    assert run.done == 5 and set(_modes(llm)) == {mode}
    if mode == "tools":
        assert llm.requests[0].json["tool_choice"]["function"]["name"] == "record_verdict"
    else:  # the schema is in the prompt when the server does not enforce it
        assert '"maximum": 5' in llm.requests[0].system


def test_an_out_of_scale_answer_gets_a_repair_turn_that_says_what_was_wrong(llm, project, items, make_judge):
    llm.quirks = Quirks(out_of_bounds=1.0)  # every first answer says 10 on a 1..5 scale
    # OpenAI's json_object has no schema field: the bounds are only in the prompt.
    judge = make_judge("openai", output_mode="json_object")
    run = run_now(project=project, judge=judge)

    assert run.done == 5 and llm.count() == 10
    repairs = [r for r in llm.requests if r.repaired]
    assert len(repairs) == 5
    assert [m["role"] for m in repairs[0].messages] == ["system", "user", "assistant", "user"]
    assert '"value": 10' in repairs[0].messages[2]["content"]
    assert "helpfulness must be an integer from 1 to 5; you answered 10." in repairs[0].messages[3]["content"]
    assert set(JudgeSample.objects.values_list("attempts", flat=True)) == {2}


def test_llama_cpps_schema_field_lists_the_points_its_grammar_would_not_bound(llm, project, items, make_judge):
    llm.quirks = LLAMA_CPP
    judge = make_judge("openai_compatible")
    run = run_now(project=project, judge=judge)
    assert run.done == 5 and not any(r.repaired for r in llm.requests)  # no answer out of bounds
    sent = llm.requests[-1].json["response_format"]["schema"]["properties"]
    assert sent["helpfulness"]["properties"]["value"]["enum"] == [1, 2, 3, 4, 5]


def test_the_same_request_is_never_sent_twice_at_temperature_zero(llm, project, items, make_judge):
    bad = {"helpfulness": {"rationale": "r", "value": 10}, "correct": {"rationale": "r", "value": True},
           "tone": {"rationale": "r", "value": "ok"}, "notes": {"rationale": "", "value": None}}  # fmt: skip
    llm.script(*[Reply.json(bad)] * 3)
    judge = make_judge("openai_compatible", output_mode="json_object")
    run_now(project=project, judge=judge, items=[items[0].id])
    sample = JudgeSample.objects.get()
    assert llm.count() == 2 and sample.outcome == Outcome.FAILED  # the first ask, then one repair
    assert "the model gave the same answer to the same request" in sample.reason

    llm.reset()
    llm.script(*[Reply.json(bad)] * 3)
    warm = make_judge("openai_compatible", name="warm", output_mode="json_object", temperature=0.7)
    run_now(project=project, judge=warm, items=[items[0].id])
    assert llm.count() == 3  # sampling: the same request may get another answer


def test_calls_in_flight_stay_within_the_judges_max_concurrency(llm, project, items, make_judge, settings):
    llm.quirks, llm.latency = LLAMA_CPP, 0.05  # one at a time: the others wait in its queue
    settings.JUDGES_CONCURRENCY, settings.JUDGES_CHUNK_SIZE = 32, 5
    judge = make_judge("openai_compatible", output_mode="json_object")
    assert judge.concurrency("openai_compatible") == 4  # the default for a local server
    Judge.objects.filter(pk=judge.pk).update(max_concurrency=2)
    run_now(project=project, judge=judge)
    assert llm.peak_in_flight == 2


def test_processes_share_the_limit_through_lock_files_without_redis(llm, tmp_path):
    # Two event loops in two threads, each with its own slots object, as two worker processes
    # would have: the lock files (flock) are what they share.
    llm.quirks, llm.latency = LLAMA_CPP, 0.05
    prompt = Prompt(system="s", user="u", schema={"type": "object", "properties": {}})

    async def worker():
        slots = EndpointSlots("", str(tmp_path))
        client = OpenAIChat(base_url=llm.openai_base_url, api_key="k", timeout=5)

        async def call():
            async with slots.hold(endpoint="e", limit=2, lease_seconds=30):
                await client.answer(prompt=prompt, model="m", temperature=0, max_output_tokens=16, mode="json_object")

        await asyncio.gather(*(call() for _ in range(6)))
        await client.aclose()

    threads = [threading.Thread(target=asyncio.run, args=(worker(),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert llm.count() == 12 and llm.peak_in_flight == 2


def test_score_logprobs_are_stored_per_criterion_and_scale_point(llm, project, items, make_judge):
    judge = make_judge("openai_compatible", output_mode="json_object")
    run_now(project=project, judge=judge, items=[items[0].id])
    sample = JudgeSample.objects.get()
    assert llm.requests[0].json["logprobs"] is True and llm.requests[0].json["top_logprobs"] == 5
    value = sample.values["helpfulness"]
    lp = sample.logprobs
    assert lp["helpfulness"][str(value)] == pytest.approx(-0.2)
    assert set(lp["helpfulness"]) <= {"1", "2", "3", "4", "5"} and len(lp["helpfulness"]) >= 2
    assert set(lp["correct"]) == {"true", "false"}
    assert "notes" not in lp  # free text has no scale points


def test_a_server_that_refuses_logprobs_is_not_asked_for_them_again(llm, project, items, make_judge):
    def refuse_logprobs(request):
        if request.json.get("logprobs"):
            return Reply.error(400, headers={}, message="logprobs is not supported by this model")
        return None

    llm.responder = refuse_logprobs
    judge = make_judge("openai_compatible")
    run = run_now(project=project, judge=judge)
    assert run.done == 5
    assert sum(1 for r in llm.requests if r.json.get("logprobs")) == 1
    judge.refresh_from_db()
    assert judge.logprobs_refused and "logprobs refused" in judge.output_mode_note
