"""The judge's "test" action: one real call on one item, its verdict or the provider's error."""

from decimal import Decimal

from annotation.models import Rating
from judges.models import JudgeSpend
from judges.services.budgets import project_budget_set
from testbed.llm_quirks import Quirks


def test_a_manager_tests_a_judge_and_auto_records_the_mode_the_server_accepts(
    llm, project, items, make_judge, members, client_for
):
    llm.quirks = Quirks(refuse_json_schema=True)
    judge = make_judge("openai_compatible")
    response = client_for(members["manager"]).post(f"/api/v1/judges/{judge.pk}/test/", {}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["item"] == items[0].id and body["output_mode"] == "json_object"
    assert 1 <= body["values"]["helpfulness"] <= 5 and "json_schema refused" in body["output_mode_note"]
    assert str(body["values"]["helpfulness"]) in body["logprobs"]["helpfulness"]
    assert llm.count() == 2 and not Rating.objects.exists()  # a test verdict is not a rating
    shown = client_for(members["manager"]).get(f"/api/v1/judges/{judge.pk}/").json()
    assert shown["output_mode"] == "auto" and shown["output_mode_found"] == "json_object"
    assert shown["concurrency"] == 4 and shown["max_concurrency"] is None


def test_the_test_action_shows_the_providers_error(llm, project, items, make_judge, members, client_for):
    llm.quirks = Quirks(refuse_json_schema=True)
    judge = make_judge("openai_compatible", output_mode="json_schema")
    body = (
        client_for(members["manager"])
        .post(f"/api/v1/judges/{judge.pk}/test/", {"item": items[2].id}, format="json")
        .json()
    )
    assert body["ok"] is False and body["item"] == items[2].id
    assert "HTTP 500" in body["reason"] and "Input should be 'text' or 'json_object'" in body["reason"]
    assert llm.count() == 1


def test_only_managers_test_a_judge_on_their_projects_items(
    llm, project, items, make_judge, members, client_for, staff
):
    judge = make_judge("openai_compatible")
    url = f"/api/v1/judges/{judge.pk}/test/"
    assert client_for(members["annotator"]).post(url, {}, format="json").status_code == 403
    assert client_for(members["reviewer"]).post(url, {}, format="json").status_code == 403
    assert client_for(members["outsider"]).post(url, {}, format="json").status_code in (403, 404)
    response = client_for(members["manager"]).post(url, {"item": 10**9}, format="json")
    assert response.status_code == 400 and "item" in response.json()["errors"]
    assert llm.count() == 0


def test_a_test_call_is_paid_from_the_projects_month_and_a_full_cap_refuses_it(
    llm, project, items, make_judge, members, client_for
):
    judge = make_judge("openai", price_input_per_mtok=Decimal("3"), price_output_per_mtok=Decimal("15"))
    url = f"/api/v1/judges/{judge.pk}/test/"
    body = client_for(members["manager"]).post(url, {}, format="json").json()
    assert body["ok"] is True and body["input_tokens"] > 0 and body["output_tokens"] > 0
    month = JudgeSpend.objects.get(project=project)
    assert month.spent_micros == body["input_tokens"] * 3 + body["output_tokens"] * 15
    assert month.reserved_micros == 0  # the worst case reserved before the call is given back

    project_budget_set(project=project, monthly_cap=Decimal(month.spent_micros) / 10**6)  # all used
    refused = client_for(members["manager"]).post(url, {}, format="json").json()
    assert refused["ok"] is False and "monthly judge budget has no room" in refused["reason"]
    assert llm.count() == 1  # nothing was sent
    assert JudgeSpend.objects.get(project=project).reserved_micros == 0
