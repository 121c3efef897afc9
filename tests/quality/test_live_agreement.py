"""Live agreement: the tallies follow every rating in its transaction, and readers get alpha at once."""

import random
import threading

import numpy as np
import pytest
from django.db import connection, connections, transaction

import agreement
from agreement.live import cells_build
from annotation.models import Rater, RaterKind, Role
from annotation.selectors import rater_for_user
from annotation.services.items import items_import
from annotation.services.projects import membership_set, project_create
from annotation.services.rating_imports import ratings_import
from annotation.services.ratings import NewRating, rating_change, rating_submit, ratings_write
from quality.models import AgreementCell, AgreementTally
from quality.selectors.agreement import project_ratings
from quality.selectors.live import live_agreement, tally_counts
from quality.services.tallies import tallies_rebuild
from rubrics.services import rubric_create
from tests.conftest import CRITERIA
from tests.quality.test_agreement_reports import helpfulness, large, queued  # noqa: F401  fixtures
from tests.quality.test_approval import rate


def _stored_cells(project) -> dict:
    """``{(criterion key, subset): {(m, c, k): count}}`` as readers see them: the shards added up,
    a judge's shard taken from the humans' where the judge has none."""
    shards: dict = {}
    for key, subset, shard in AgreementTally.objects.filter(project=project).values_list(
        "criterion__key", "subset", "shard"
    ):
        shards.setdefault((key, subset), {})[shard] = {}
    for key, subset, shard, m, c, k, n in AgreementCell.objects.filter(tally__project=project).values_list(
        "tally__criterion__key", "tally__subset", "tally__shard", "m", "c", "k", "count"
    ):
        shards[(key, subset)][shard][(m, c, k)] = n
    out: dict = {}
    for (key, subset), own in shards.items():
        total: dict = {}
        for shard, humans in shards.get((key, AgreementTally.HUMANS), {}).items():
            for cell, n in own.get(shard, humans).items():
                total[cell] = total.get(cell, 0) + n
        total = {cell: n for cell, n in total.items() if n}
        if total:
            out[(key, subset)] = total
    return out


def _full_recompute(project, judge=None) -> dict:
    """Alpha from every rating: the humans', or the humans' and ``judge``'s (minus its shown items)."""
    per_criterion, raters = project_ratings(project=project)
    humans = np.asarray([pk for pk, r in raters.items() if r.kind == RaterKind.HUMAN])
    out = {}
    for cr in per_criterion:
        mask = np.isin(cr.raters, humans)
        if judge is not None:
            mask |= (cr.raters == judge.pk) & ~np.isin(cr.units, judge.shown_item_ids or [])
        out[cr.criterion.key] = agreement.alpha(
            cr.units[mask], cr.raters[mask], cr.values[mask], level=cr.criterion.agreement_level, bootstrap_draws=0
        )
    return out


def _assert_live_equals_full(project, judge=None) -> None:
    live = live_agreement(project=project)
    full = _full_recompute(project, judge)
    figures = live.alphas if judge is None else {key: per[judge.pk] for key, per in live.judges.items()}
    assert live is not None and set(figures) == set(full)
    for key, result in full.items():
        got = figures[key]
        assert (got.alpha is None) == (result.alpha is None), key
        if result.alpha is not None:
            assert got.alpha == pytest.approx(result.alpha, abs=1e-9), key
        assert (got.pairable_units, got.pairable_values) == (result.pairable_units, result.pairable_values)


@pytest.mark.django_db
@pytest.mark.both_databases
def test_it_keeps_alpha_live_through_submissions_corrections_imports_and_verdicts(project, members, items):
    rate(items[0], members["annotator"], helpfulness=5, correct=True, tone="ok")
    rate(items[0], members["annotator2"], helpfulness=4, correct=False, tone="rude")
    rate(items[1], members["annotator"], helpfulness=2, correct=True)
    rate(items[1], members["annotator2"], helpfulness=2, correct=True)
    rate(items[2], members["annotator"], helpfulness=1)
    _assert_live_equals_full(project)
    before = live_agreement(project=project)
    rating_change(
        item=items[0],
        rater=rater_for_user(user=members["annotator"]),
        values={"helpfulness": 1, "correct": False, "tone": "ok"},
        rationales={"helpfulness": "changed my mind"},
    )
    after = live_agreement(project=project)
    assert after.alphas["helpfulness"].alpha != before.alphas["helpfulness"].alpha
    assert after.writes == before.writes + 1
    _assert_live_equals_full(project)
    why = {"helpfulness": "imported"}
    ratings_import(
        project=project,
        rows=[
            {
                "external_id": "x2",
                "rater": "manager",
                "values": {"helpfulness": 2, "correct": True, "tone": "ok"},
                "rationales": why,
            },
            {
                "external_id": "x3",
                "rater": "manager",
                "values": {"helpfulness": 3, "correct": True, "tone": "ok"},
                "rationales": why,
            },
            {
                "external_id": "x3",
                "rater": "reviewer",
                "values": {"helpfulness": 4, "correct": True, "tone": "rude"},
                "rationales": why,
            },
        ],
    )
    _assert_live_equals_full(project)
    # A judge's verdicts count as writes (reports notice them) but not in the humans' alpha.
    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1)
    counted = live_agreement(project=project)
    ratings_write(
        rubric_version_id=project.rubric_version_id,
        ratings=[NewRating(items[3].pk, judge.pk, {"helpfulness": 1, "correct": False, "tone": "rude"}, {})],
        source="judge",
    )
    judged = live_agreement(project=project)
    assert judged.writes == counted.writes + 1
    assert judged.alphas["helpfulness"].alpha == counted.alphas["helpfulness"].alpha
    _assert_live_equals_full(project)
    # ... and each judge has its own live tally beside the humans: begun with its first verdict,
    # moved by later human ratings, never counting the items it was shown as examples.
    _assert_live_equals_full(project, judge)
    shown = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v2", version=2, shown_item_ids=[items[0].pk])
    verdicts = [
        NewRating(item.pk, shown.pk, {"helpfulness": h, "correct": True, "tone": "ok"}, {})
        for item, h in zip(items[:4], [5, 2, 3, 4], strict=True)
    ]
    ratings_write(rubric_version_id=project.rubric_version_id, ratings=verdicts, source="judge")
    rate(items[4], members["annotator"], helpfulness=2)
    rate(items[4], members["annotator2"], helpfulness=3)
    for who in (judge, shown):
        _assert_live_equals_full(project, who)
    assert set(live_agreement(project=project).judges["helpfulness"]) == {judge.pk, shown.pk}
    # One batch with a person's rating and a new judge's first verdicts (its subset begins mid-batch).
    third = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v3", version=3)
    mixed = [NewRating(items[4].pk, rater_for_user(user=members["reviewer"]).pk, {"helpfulness": 5}, {})]
    mixed += [NewRating(item.pk, third.pk, {"helpfulness": 3, "correct": False}, {}) for item in items[3:]]
    ratings_write(rubric_version_id=project.rubric_version_id, ratings=mixed, source="import")
    for who in (None, judge, shown, third):
        _assert_live_equals_full(project, who)
    # A rebuild from the ratings finds exactly the cells kept incrementally.
    kept = _stored_cells(project)
    tallies_rebuild(project=project)
    assert _stored_cells(project) == kept
    _assert_live_equals_full(project)
    for who in (judge, shown, third):
        _assert_live_equals_full(project, who)


@pytest.mark.django_db
def test_the_api_serves_the_new_alpha_at_once_on_a_large_project(project, members, items, client_for, large, queued):  # noqa: F811
    url = f"/api/v1/projects/{project.pk}/agreement/?bootstrap=0"
    rate(items[0], members["annotator"], helpfulness=5)
    rate(items[0], members["annotator2"], helpfulness=4)
    rate(items[1], members["annotator"], helpfulness=2)
    rate(items[1], members["annotator2"], helpfulness=1)
    first = client_for(members["reviewer"]).get(url)
    assert first.status_code == 200  # no report computed yet, but the point estimates are live
    body = first.json()
    assert (body["stale"], body["refreshing"], body["interval_lag_ratings"]) == (False, True, None)
    assert helpfulness(body)["alpha"] == pytest.approx(_full_recompute(project)["helpfulness"].alpha)
    assert helpfulness(body)["ci"] is None
    # The worker computes the report; then one more rating: alpha moves at once, the report lags by one.
    from quality.models import AgreementReport
    from quality.services.agreement_reports import agreement_report_compute

    agreement_report_compute(report_id=AgreementReport.objects.get(project=project, bootstrap_draws=0).pk)
    rate(items[2], members["annotator"], helpfulness=3)
    rate(items[2], members["annotator2"], helpfulness=1)
    body = client_for(members["reviewer"]).get(url).json()
    assert (body["stale"], body["interval_lag_ratings"]) == (False, 2)
    assert helpfulness(body)["alpha"] == pytest.approx(_full_recompute(project)["helpfulness"].alpha)
    assert helpfulness(body)["units"] == 3


WRITERS = 32


@pytest.mark.django_db(transaction=True)
def test_no_update_is_lost_with_32_concurrent_writers(make_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions on the same tally rows are what is under test")
    staff = make_user("staff", is_staff=True)
    version = rubric_create(actor=staff, name="Quality", criteria=CRITERIA)
    project = project_create(actor=staff, name="Busy", rubric=version, annotations_per_item=WRITERS + 1)
    items_import(project=project, rows=[{"external_id": f"i{n}", "data": {"n": n}} for n in range(6)])
    items = list(project.items.order_by("id"))
    users = []
    for n in range(WRITERS):
        user = make_user(f"annotator{n}")
        membership_set(project=project, user=user, role=Role.ANNOTATOR)
        users.append(user)
    start = threading.Barrier(WRITERS + 1)
    errors = []

    def write(user, seed):
        rng = random.Random(seed)
        try:
            rater = rater_for_user(user=user)
            start.wait()
            for item in rng.sample(items, len(items)):
                values = {"helpfulness": rng.randint(1, 5), "correct": rng.random() < 0.5, "tone": "ok"}
                rating_submit(item=item, rater=rater, values=values, rationales={"helpfulness": "x"})
                if rng.random() < 0.3:
                    values = {**values, "helpfulness": rng.randint(1, 5), "tone": "rude"}
                    rating_change(item=item, rater=rater, values=values, rationales={"helpfulness": "y"})
        except Exception as exc:  # reported below: a thread's exception would vanish otherwise
            errors.append(exc)
        finally:
            connections.close_all()

    judge = Rater.objects.create(kind=RaterKind.JUDGE, name="judge v1", version=1)

    def verdicts():
        try:
            start.wait()
            for item in items:  # one verdict per transaction, racing the people's ratings
                with transaction.atomic():
                    values = {"helpfulness": 1 + item.pk % 5, "correct": True, "tone": "ok"}
                    ratings_write(
                        rubric_version_id=version.pk, ratings=[NewRating(item.pk, judge.pk, values, {})], source="judge"
                    )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(u, n)) for n, u in enumerate(users)]
    threads.append(threading.Thread(target=verdicts))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    _assert_live_equals_full(project)
    _assert_live_equals_full(project, judge)
    per_criterion, _ = project_ratings(project=project)
    stored = _stored_cells(project)
    for cr in per_criterion:
        people = cr.raters != judge.pk
        assert stored[(cr.criterion.key, 0)] == cells_build(cr.units[people], cr.values[people]).as_dict()
        assert stored[(cr.criterion.key, judge.pk)] == cells_build(cr.units, cr.values).as_dict()
    ratings, writes = tally_counts(project=project)["helpfulness"]
    assert ratings == WRITERS * len(items)
    assert writes >= WRITERS * len(items)
    # The items sit in different shards: each shard's header counts its own items' ratings.
    shards = AgreementTally.objects.filter(project=project, criterion__key="helpfulness", subset=AgreementTally.HUMANS)
    assert sorted(t.shard for t in shards) == sorted({item.pk % AgreementTally.SHARDS for item in items})
    assert all(t.ratings == WRITERS for t in shards)


@pytest.mark.django_db
def test_the_dashboard_shows_the_live_alpha_of_a_large_project(client, project, members, items, large, queued):  # noqa: F811
    rate(items[0], members["annotator"], helpfulness=5)
    rate(items[0], members["annotator2"], helpfulness=4)
    rate(items[1], members["annotator"], helpfulness=2)
    rate(items[1], members["annotator2"], helpfulness=1)
    client.force_login(members["reviewer"])
    html = client.get(f"/projects/{project.pk}/dashboard/").content.decode()
    assert "Alpha is live" in html and "being computed" in html
    expected = _full_recompute(project)["helpfulness"].alpha
    assert f"helpfulness: alpha {expected:.3f}" in html
    rate(items[2], members["annotator"], helpfulness=1)
    rate(items[2], members["annotator2"], helpfulness=5)
    moved = _full_recompute(project)["helpfulness"].alpha
    assert f"{moved:.3f}" != f"{expected:.3f}"
    assert f"helpfulness: alpha {moved:.3f}" in client.get(f"/projects/{project.pk}/dashboard/").content.decode()
