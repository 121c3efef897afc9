"""Where the truth lies when a sampled judge is wrong (agreement.judge_landing, own_weight_fit):
the fit learns it on gold, and one reliable person can then overrule a judge whose samples put
nothing on their answer (docs/triage.md, section 3b)."""

import pytest
from django.test import Client

from annotation.models import ItemStatus
from quality.selectors.policy import policy_for
from quality.services.approval import project_decide
from tests.quality.test_triage_posterior import GOLD_ITEMS, SURE, VERDICT, judged_and_fitted, project_with_judge, rate

pytestmark = pytest.mark.django_db

# Five samples: four said 4 and one said 3, so the judge's own distribution puts nothing on 5.
SAMPLED = {**SURE, "helpfulness": {"3": 0.2, "4": 0.8}}
WRONG = 12


@pytest.fixture
def sampled(staff, rubric_version, make_user):
    """A judge that said 4 on every item from such samples; on 12 of 60 gold items the truth was
    5 (never 3). Two people matched gold on each."""
    rows = [{"external_id": f"i{i}", "data": {"n": i}} for i in range(GOLD_ITEMS + 1)]
    project, items, users, judge = project_with_judge(
        staff=staff, rubric_version=rubric_version, make_user=make_user, name="Sampled", rows=rows, people=4
    )
    truth = {True: {**VERDICT, "helpfulness": 5}, False: VERDICT}
    project = judged_and_fitted(project=project, items=items, users=users, judge=judge, distribution=SAMPLED,
                                confidence=0.8, truth=lambda n: truth[n < WRONG])  # fmt: skip
    return project, project.items.get(pk=items[GOLD_ITEMS].pk), users


def test_the_fit_learns_where_the_judge_errs_and_a_person_overrules_its_samples(sampled):
    project, item, users = sampled
    policy = policy_for(project=project)
    fit = policy.posterior_model["criteria"]["helpfulness"]
    # The samples named 3 as the alternative; gold's wrong verdicts were all 5: the rater model's share wins.
    assert fit["judge_own_weight"] == 0.0
    assert fit["judge_landing"][3][4] > 0.5, "a wrong 4 was mostly a 5 in this project"
    rate(item, users[2], helpfulness=5)  # people who matched gold every time
    item.refresh_from_db()
    assert item.status == ItemStatus.APPROVED and item.consensus["helpfulness"] == 5
    # A fit stored before the landing: the judge's own share (the floor on 5), and the same
    # person cannot settle the item.
    del fit["judge_landing"], fit["judge_own_weight"]
    policy.save(update_fields=["posterior_model"])
    project_decide(project=project)
    item.refresh_from_db()
    assert not (item.status == ItemStatus.APPROVED and item.consensus["helpfulness"] == 5)


def test_the_policy_page_says_how_much_of_the_judges_own_alternatives_is_kept(sampled):
    project, _item, _users = sampled
    browser = Client()
    browser.force_login(project.created_by)
    html = browser.get(f"/projects/{project.pk}/settings/policy/").content.decode()
    row = html[html.index('<tr data-criterion="helpfulness">') :].split("</tr>")[0]
    assert '<td class="num" data-field="own-weight">0 %</td>' in row
