"""Agreement reports read from the ratings in the database; the statistics live in agreement/.

A judge is a rater like any other here: the only difference is that its numbers are reported
against the humans' (alpha with the consensus, and alpha when it replaces each human in turn),
and that it is never measured on the items whose labels it was shown as few-shot examples.
"""

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import psycopg
from django.db import connection
from django.db.models import Count, Max

import agreement
from annotation.models import Item, Project, Rater, RaterKind, Rating
from quality.models import ApprovalPolicy
from quality.selectors.live import LiveAgreement, tally_writes
from quality.selectors.policy import policy_for
from rubrics.models import Criterion
from rubrics.scales import scale_points, value_code_sql

RELIABLE, TENTATIVE = 0.800, 0.667


def reliability_status(alpha: float | None) -> str:
    """Krippendorff's guidance: ≥ 0.800 reliable; 0.667 to 0.800 for tentative conclusions only."""
    if alpha is None:
        return "undefined"
    if alpha >= RELIABLE:
        return "reliable"
    if alpha >= TENTATIVE:
        return "tentative"
    return "unreliable"


@dataclass
class CriterionRatings:
    """One criterion's ratings in long format (numpy arrays), the shape agreement/ works on."""

    criterion: Criterion
    units: np.ndarray
    raters: np.ndarray
    values: np.ndarray

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.units, self.raters, self.values


def _rows_postgres(cursor, sql: str, params: list, width: int) -> np.ndarray:
    """Fetch ``sql``'s columns as one row of arrays, in binary: for a million rows this is
    ~20x faster than building a Python tuple per row. Every column is NOT NULL (the query
    COALESCEs missing values to NaN)."""
    columns = ", ".join(f"array_agg(c{k})" for k in range(width))
    names = ", ".join(f"c{k}" for k in range(width))
    # Django's cursors bind parameters client-side, which rules out binary results.
    with psycopg.Cursor(cursor.connection) as binary:
        binary.execute(f"SELECT {columns} FROM ({sql}) AS t({names})", params, binary=True)
        arrays = binary.fetchone()
    if arrays[0] is None:
        return np.zeros((0, width))
    return np.column_stack([np.asarray(a, dtype=np.float64) for a in arrays])


def project_ratings(*, project: Project) -> tuple[list[CriterionRatings], dict[int, Rater]]:
    """Every rating of the project's current rubric version, per criterion with a level."""
    criteria = [c for c in project.rubric_version.criteria.all() if c.agreement_level is not None]
    if not criteria:
        return [], {}
    postgres = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    column = f"r.{quote('values')}"
    selects, params = [], []
    for criterion in criteria:
        # Done in the database so a million ratings never become a million Python dicts.
        expr, expr_params = value_code_sql(criterion.scale, criterion.key, column=column, vendor=connection.vendor)
        selects.append(f"COALESCE({expr}, 'NaN'::float8)" if postgres else expr)
        params.extend(expr_params)
    sql = (
        f"SELECT r.item_id, r.rater_id, {', '.join(selects)} FROM {quote(Rating._meta.db_table)} r "
        f"JOIN {quote(Item._meta.db_table)} i ON i.id = r.item_id "
        f"WHERE i.project_id = %s AND r.rubric_version_id = %s"
    )
    params += [project.pk, project.rubric_version_id]
    with connection.cursor() as cursor:
        if postgres:
            table = _rows_postgres(cursor, sql, params, width=2 + len(criteria))
        else:
            cursor.execute(sql, params)
            table = np.asarray(cursor.fetchall(), dtype=np.float64).reshape(-1, 2 + len(criteria))
    units, raters = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    out = []
    for k, criterion in enumerate(criteria):
        values = table[:, 2 + k]
        given = ~np.isnan(values)
        out.append(
            CriterionRatings(criterion=criterion, units=units[given], raters=raters[given], values=values[given])
        )
    return out, Rater.objects.in_bulk(np.unique(raters).tolist())


def _judge_report(cr: CriterionRatings, judge: Rater, humans: np.ndarray, policy: ApprovalPolicy, draws: int) -> dict:
    units, raters, values = cr.arrays()
    shown = np.asarray(judge.shown_item_ids or [], dtype=np.int64)
    held_out = ~np.isin(units, shown)
    h = humans & held_out
    j = (raters == judge.pk) & held_out
    level = cr.criterion.agreement_level
    categories = scale_points(cr.criterion.scale) if level in ("nominal", "ordinal") else None
    vs = agreement.judge_vs_humans(
        units[h], raters[h], values[h], units[j], values[j], level=level, categories=categories, bootstrap_draws=0
    )
    sub = agreement.judge_as_rater(
        units[h], raters[h], values[h], units[j], values[j], level=level, bootstrap_draws=draws
    )
    decision = agreement.judge_trusted(
        sub.mean_substituted,
        sub.human.alpha,
        margin=policy.trust_margin,
        units=vs.units,
        min_units=policy.trust_min_items,
    )
    kappa = vs.kappa_quadratic if level == "ordinal" else vs.kappa
    return {
        "judge": judge.name,
        "rater": judge.pk,
        "version": judge.version,
        "items": vs.units,
        "items_excluded_as_examples": len(set(shown.tolist()) & set(units[raters == judge.pk].tolist())),
        "alpha_vs_consensus": vs.alpha.alpha,
        "kappa": kappa.value if kappa else None,
        "spearman": vs.spearman.value if vs.spearman else None,
        "exact_accuracy": vs.exact_accuracy,
        "within_one_accuracy": vs.within_one_accuracy,
        "confusion": vs.confusion.as_dict() if vs.confusion else None,
        "alpha_humans": sub.human.alpha,
        "alpha_as_rater": sub.mean_substituted,
        "alpha_as_rater_ci": list(sub.mean_substituted_ci) if sub.mean_substituted_ci else None,
        "alpha_difference": sub.difference,
        "alpha_difference_ci": list(sub.difference_ci) if sub.difference_ci else None,
        "trusted": decision.trusted,
        "trust_reason": decision.reason,
    }


def _human_mask(rater_ids: np.ndarray, raters: dict[int, Rater]) -> np.ndarray:
    human_ids = np.asarray([r for r, x in raters.items() if x.kind == RaterKind.HUMAN], dtype=np.int64)
    return np.isin(rater_ids, human_ids)


BOOTSTRAP_BUDGET = 200_000_000
"""Ratings x draws above which the interval is drawn fewer times (see bootstrap_draws_used)."""
BOOTSTRAP_FLOOR = 200


def bootstrap_draws_used(*, requested: int, ratings: int) -> int:
    """How many bootstrap draws a report of ``ratings`` ratings makes when ``requested`` are asked.

    The bootstrap costs draws x ratings, so on a million ratings 1,000 draws take most of a
    minute. Above BOOTSTRAP_BUDGET rating-draws the count drops, never below BOOTSTRAP_FLOOR
    (nor above what was asked). The Monte Carlo error of a 95 % percentile interval's ends is
    about sqrt(0.025 * 0.975 / draws) / 0.058 standard errors of alpha: 0.19 with 200 draws,
    0.09 with 1,000; past 200,000 ratings that standard error is in the fourth decimal, so the
    difference does not show. Reports say how many draws they used.
    """
    if requested <= BOOTSTRAP_FLOOR or ratings <= 0:
        return requested
    return max(BOOTSTRAP_FLOOR, min(requested, BOOTSTRAP_BUDGET // ratings))


STAMP_LIMIT = 100_000
"""Up to this many (human) ratings the state also counts the ratings (milliseconds), which sees
rows deleted outside the services too; above it the count costs a scan (a second at a million)
and the tallies' write counter stands alone."""


def ratings_state(*, project: Project, policy: ApprovalPolicy, judge_ids: Iterable[int | str] = ()) -> dict:
    """What an agreement report depends on, cheaply: the live tallies' write counter, or (a
    project without tallies) one COUNT/MAX over the project's ratings.

    The count, the last id and the last update change with any new, edited or deleted rating
    (human or judge; a deleted rating lowers the count, a new one raises the last id), plus
    the rubric version, the policy (judge trust) and the few-shot items of the judges in the
    report (``judge_ids``). Edits made with ``QuerySet.update()`` without ``updated_at`` go
    unseen, as they would by any ``auto_now`` field.
    """
    common = {
        "rubric_version": project.rubric_version_id,
        "policy": policy.updated_at.isoformat(),
        "judges": _judge_digests(Rater.objects.filter(pk__in=[int(r) for r in judge_ids])),
    }
    tally = tally_writes(project=project)
    if tally is not None and tally[1] > STAMP_LIMIT:
        # The live tallies count every rating written or changed (quality/services/tallies.py).
        return {**common, "writes": tally[0], "ratings": tally[1]}
    if tally is not None:
        common["writes"] = tally[0]
    stamp = Rating.objects.filter(item__project=project).aggregate(n=Count("id"), last=Max("id"), at=Max("updated_at"))
    return {
        **common,
        "ratings": stamp["n"],
        "last_id": stamp["last"],
        "updated_at": stamp["at"].isoformat() if stamp["at"] else None,
    }


def _judge_digests(raters: Iterable[Rater]) -> dict[str, int]:
    """Per judge rater: a checksum of the items it was shown (they are left out of its measure)."""
    return {
        str(r.pk): zlib.crc32(json.dumps(sorted(r.shown_item_ids or [])).encode())
        for r in raters
        if r.kind != RaterKind.HUMAN
    }


def agreement_for_project(
    *, project: Project, bootstrap_draws: int = 1000, policy: ApprovalPolicy | None = None
) -> tuple[dict, dict[str, int]]:
    """Compute the report: per criterion, human alpha with interval and status, per-annotator
    reliability, and each judge against the humans. Seconds on a million ratings; readers go
    through quality.services.agreement_reports, which stores it.

    Returns the report and the judges' few-shot checksums it was computed with (for its state).
    """
    policy = policy or policy_for(project=project)
    per_criterion, raters = project_ratings(project=project)
    # The bootstrap's cost follows the ratings of a criterion; the largest decides for all.
    largest = max((cr.units.size for cr in per_criterion), default=0)
    draws = bootstrap_draws_used(requested=bootstrap_draws, ratings=largest)
    report = _agreement_report(project=project, policy=policy, per_criterion=per_criterion, raters=raters, draws=draws)
    report["bootstrap_draws"] = bootstrap_draws
    report["bootstrap_draws_used"] = draws
    return report, _judge_digests(raters.values())


def _agreement_report(
    *,
    project: Project,
    policy: ApprovalPolicy,
    per_criterion: list[CriterionRatings],
    raters: dict[int, Rater],
    draws: int,
) -> dict:
    criteria_out = []
    for cr in per_criterion:
        units, rater_ids, values = cr.arrays()
        humans = _human_mask(rater_ids, raters)
        level = cr.criterion.agreement_level
        result = agreement.alpha(units[humans], rater_ids[humans], values[humans], level=level, bootstrap_draws=draws)
        annotators = []
        if humans.any():
            report = agreement.rater_agreement(units[humans], rater_ids[humans], values[humans], level=level)
            for entry in report.raters:
                annotators.append(
                    {
                        "rater": entry.rater,
                        "name": raters[entry.rater].name,
                        "ratings": entry.ratings,
                        "alpha_without": entry.alpha_without.alpha,
                        "alpha_change": entry.alpha_change,
                        "exact_match_rate": entry.exact_match_rate,
                        "mean_absolute_deviation": entry.mean_absolute_deviation,
                        "units_compared": entry.units_compared,
                    }
                )
        judges = [
            _judge_report(cr, raters[r], humans, policy, draws)
            for r in sorted(
                set(np.unique(rater_ids).tolist()) - {r for r, x in raters.items() if x.kind == RaterKind.HUMAN}
            )
        ]
        criteria_out.append(
            {
                "key": cr.criterion.key,
                "title": cr.criterion.title,
                "level": level,
                "humans": {
                    "alpha": result.alpha,
                    "ci": list(result.ci) if result.ci else None,
                    "units": result.pairable_units,
                    "ratings": result.pairable_values,
                    "observed_disagreement": result.observed_disagreement,
                    "expected_disagreement": result.expected_disagreement,
                    "status": reliability_status(result.alpha),
                    "reason": result.reason,
                },
                "annotators": annotators,
                "judges": judges,
            }
        )
    return {"project": project.pk, "rubric_version": project.rubric_version.number, "criteria": criteria_out}


def live_overlay(*, payload: dict | None, project: Project, figures: LiveAgreement, humans: bool = True) -> dict:
    """``payload`` (a stored report, possibly older, or None) with each criterion's human alpha
    replaced by the live one (unless ``humans`` is False: a current report's own stand); its
    interval, annotators and judges stay as computed. ``judges_live`` gives each judge's live alpha
    together with the humans."""
    stored = {c["key"]: c for c in (payload or {}).get("criteria", [])}
    judge_ids = {rater for per_judge in figures.judges.values() for rater in per_judge}
    names = dict(Rater.objects.filter(pk__in=judge_ids).values_list("pk", "name")) if judge_ids else {}
    if not humans and payload is not None:  # a report current for every rating: its own figures stand
        criteria = [{**c, "judges_live": _judges_live(figures, c["key"], names)} for c in payload["criteria"]]
        return {**payload, "criteria": criteria}
    criteria_out = []
    for criterion in project.rubric_version.criteria.all():
        result = figures.alphas.get(criterion.key)
        if result is None:
            continue
        entry = dict(stored.get(criterion.key) or {"annotators": [], "judges": []})
        people = dict(entry.get("humans") or {"ci": None})
        people.update(
            alpha=result.alpha,
            units=result.pairable_units,
            ratings=result.pairable_values,
            observed_disagreement=result.observed_disagreement,
            expected_disagreement=result.expected_disagreement,
            status=reliability_status(result.alpha),
            reason=result.reason,
        )
        entry.update(key=criterion.key, title=criterion.title, level=criterion.agreement_level, humans=people)
        entry["judges_live"] = _judges_live(figures, criterion.key, names)
        criteria_out.append(entry)
    base = payload or {"bootstrap_draws": 0, "bootstrap_draws_used": 0}
    return {**base, "project": project.pk, "rubric_version": project.rubric_version.number, "criteria": criteria_out}


def _judges_live(figures: LiveAgreement, key: str, names: dict[int, str]) -> list[dict]:
    """Each judge rated beside the humans, live: alpha of the humans and the judge together."""
    return [
        {
            "rater": rater,
            "name": names.get(rater, ""),
            "alpha_with_humans": result.alpha,
            "units": result.pairable_units,
            "ratings": result.pairable_values,
        }
        for rater, result in sorted(figures.judges.get(key, {}).items())
    ]


def items_by_disagreement(*, project: Project, limit: int = 100) -> list[dict]:
    """Items whose raters disagree most (largest per-criterion score first)."""
    per_criterion, raters = project_ratings(project=project)
    scores: dict[int, dict[str, float]] = {}
    for cr in per_criterion:
        units, rater_ids, values = cr.arrays()
        humans = _human_mask(rater_ids, raters)
        if not humans.any():
            continue
        by_item = agreement.item_disagreement(
            units[humans],
            rater_ids[humans],
            values[humans],
            level=cr.criterion.agreement_level,
            scale=scale_points(cr.criterion.scale, values[humans].tolist()),
        )
        for item_id, score in by_item.items():
            scores.setdefault(item_id, {})[cr.criterion.key] = round(score, 6)
    ranked = sorted(scores.items(), key=lambda kv: (-max(kv[1].values()), kv[0]))[:limit]
    items = Item.objects.in_bulk([item_id for item_id, _ in ranked])
    return [
        {
            "item": item_id,
            "external_id": items[item_id].external_id,
            "status": items[item_id].status,
            "disagreement": per_key,
            "max": max(per_key.values()),
        }
        for item_id, per_key in ranked
    ]
