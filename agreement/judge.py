"""Comparing an LLM judge with human annotators (pure numpy; callers pass arrays).

Two complementary views:

* :func:`judge_vs_humans` treats the human consensus of each unit as the reference and
  asks how well the judge reproduces it (alpha, kappa, rho, accuracy, confusion matrix).
* :func:`judge_as_rater` asks whether the judge could stand in for a human: alpha of the
  humans against alpha when the judge replaces each human in turn.  Replacing (rather
  than adding) keeps the number of ratings per unit, and with it alpha's small-sample
  behaviour, unchanged, so the two alphas are comparable.

:func:`judge_trusted` turns such numbers into a yes/no with a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from agreement._data import Level, Ratings, as_ratings, check_level
from agreement.alpha import AlphaResult, alpha_of, check_bootstrap, joint_draws, json_float, prepare, result_of
from agreement.bootstrap import percentile_interval
from agreement.pairwise import Measure, cohen_kappa, spearman
from agreement.raters import unit_consensus


@dataclass(frozen=True)
class ConfusionMatrix:
    """``counts[i][j]``: units whose human consensus is ``labels[i]`` and judge value ``labels[j]``."""

    labels: list[float]
    counts: list[list[int]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"labels": [float(v) for v in self.labels], "counts": [[int(c) for c in row] for row in self.counts]}


@dataclass(frozen=True)
class JudgeAgreement:
    """A judge against the per-unit human consensus, over ``units`` compared units.

    ``units_without_consensus`` counts units the judge rated where the humans had no
    single consensus value (they are left out).  Fields that do not apply to the level
    are None: weighted kappas are ordinal-only, ``spearman`` and ``within_one_accuracy``
    need a numeric level, the confusion matrix a categorical one.
    """

    level: Level
    units: int
    units_without_consensus: int
    alpha: AlphaResult
    kappa: Measure | None
    kappa_linear: Measure | None
    kappa_quadratic: Measure | None
    spearman: Measure | None
    exact_accuracy: float | None
    within_one_accuracy: float | None
    confusion: ConfusionMatrix | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""

        def opt(x: Any) -> Any:
            return None if x is None else x.as_dict()

        return {
            "level": self.level,
            "units": int(self.units),
            "units_without_consensus": int(self.units_without_consensus),
            "alpha": self.alpha.as_dict(),
            "kappa": opt(self.kappa),
            "kappa_linear": opt(self.kappa_linear),
            "kappa_quadratic": opt(self.kappa_quadratic),
            "spearman": opt(self.spearman),
            "exact_accuracy": json_float(self.exact_accuracy),
            "within_one_accuracy": json_float(self.within_one_accuracy),
            "confusion": opt(self.confusion),
        }


def _inputs(
    units: npt.ArrayLike, raters: npt.ArrayLike, values: npt.ArrayLike,
    judge_units: npt.ArrayLike, judge_values: npt.ArrayLike,
    level: str, bootstrap_draws: int, ci_level: float,
) -> tuple[Level, Ratings, np.ndarray, np.ndarray]:  # fmt: skip
    """Checked arguments: the level, the humans' ratings, and the judge's units and values."""
    level = check_level(level)
    check_bootstrap(bootstrap_draws, ci_level)
    judge = as_ratings(judge_units, np.zeros(np.asarray(judge_units).shape, dtype=np.int64), judge_values)
    return level, as_ratings(units, raters, values), judge.unit_ids[judge.unit], judge.values


def judge_vs_humans(
    units: npt.ArrayLike,
    raters: npt.ArrayLike,
    values: npt.ArrayLike,
    judge_units: npt.ArrayLike,
    judge_values: npt.ArrayLike,
    *,
    level: Level,
    categories: Sequence[float] | None = None,
    bootstrap_draws: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> JudgeAgreement:
    """Agreement of a judge's values (one per unit) with the human consensus per unit.

    Consensus is the unique majority for nominal and the median otherwise (ordinal: only
    when it is a single category); see :func:`agreement.raters.unit_consensus`.  Units a
    single human rated count, with that human as the consensus.  ``alpha`` treats
    consensus and judge as two raters (with a bootstrap interval).  ``categories`` is the
    ordered scale for ordinal weighted kappa, within-one (one *category* apart) and the
    confusion labels; without it, within-one means ``|judge - consensus| <= 1`` in value
    units and the labels are the values that occur.
    """
    level, humans, judge_u, judge_v = _inputs(units, raters, values, judge_units, judge_values, level,
                                               bootstrap_draws, ci_level)  # fmt: skip
    unit_ids, consensus, single = unit_consensus(humans, level)
    common, in_h, in_j = np.intersect1d(unit_ids, judge_u, assume_unique=True, return_indices=True)
    keep = single[in_h]
    ref, got = consensus[in_h][keep], judge_v[in_j][keep]
    compared = common[keep]
    pair_units = np.concatenate([compared, compared])
    pair_raters = np.repeat(np.array([0, 1]), compared.size)
    agreement_alpha = alpha_of(
        as_ratings(pair_units, pair_raters, np.concatenate([ref, got])), level, bootstrap_draws, seed, ci_level
    )
    categorical = level in ("nominal", "ordinal")
    numeric = level != "nominal"
    scale = None
    if categorical:
        scale = np.unique(np.concatenate([ref, got])) if categories is None else np.asarray(categories, dtype=float)
    kappa = cohen_kappa(ref, got, categories=scale) if categorical else None
    kappa_linear = cohen_kappa(ref, got, weights="linear", categories=scale) if level == "ordinal" else None
    kappa_quadratic = cohen_kappa(ref, got, weights="quadratic", categories=scale) if level == "ordinal" else None
    within_one = None
    if numeric and compared.size:
        if level == "ordinal" and categories is not None:
            assert scale is not None
            index = {float(v): i for i, v in enumerate(scale.tolist())}
            gap = np.abs(np.array([index[v] for v in got.tolist()]) - np.array([index[v] for v in ref.tolist()]))
        else:
            gap = np.abs(got - ref)
        within_one = float((gap <= 1).mean())
    confusion = None
    if categorical:
        assert scale is not None
        position = {float(v): i for i, v in enumerate(scale.tolist())}
        counts = np.zeros((scale.size, scale.size), dtype=np.int64)
        for r, g in zip(ref.tolist(), got.tolist(), strict=True):
            counts[position[r], position[g]] += 1
        confusion = ConfusionMatrix(labels=scale.tolist(), counts=counts.tolist())
    return JudgeAgreement(
        level=level,
        units=int(compared.size),
        units_without_consensus=int((~keep).sum()),
        alpha=agreement_alpha,
        kappa=kappa,
        kappa_linear=kappa_linear,
        kappa_quadratic=kappa_quadratic,
        spearman=spearman(ref, got) if numeric else None,
        exact_accuracy=float((ref == got).mean()) if compared.size else None,
        within_one_accuracy=within_one,
        confusion=confusion,
    )


@dataclass(frozen=True)
class JudgeSubstitution:
    """Alpha of the humans versus alpha with the judge in place of each human.

    ``substituted[rater]`` is alpha when the judge's values replace that rater's ratings
    (on the units the rater rated and the judge scored; elsewhere the rater's ratings are
    simply dropped).  ``mean_substituted`` averages the defined substituted alphas;
    ``difference = mean_substituted - human.alpha``.  All intervals come from the *same*
    resampled units, so ``difference_ci`` accounts for the correlation between the two.
    """

    human: AlphaResult
    substituted: dict[int, AlphaResult]
    mean_substituted: float | None
    mean_substituted_ci: tuple[float, float] | None
    difference: float | None
    difference_ci: tuple[float, float] | None
    ci_level: float
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (``substituted`` as a list of ``{"rater": id, **alpha}``)."""

        def pair(ci: tuple[float, float] | None) -> list[float] | None:
            return None if ci is None else [float(ci[0]), float(ci[1])]

        return {
            "human": self.human.as_dict(),
            "substituted": [{"rater": int(r), **a.as_dict()} for r, a in self.substituted.items()],
            "mean_substituted": json_float(self.mean_substituted),
            "mean_substituted_ci": pair(self.mean_substituted_ci),
            "difference": json_float(self.difference),
            "difference_ci": pair(self.difference_ci),
            "ci_level": float(self.ci_level),
            "reason": self.reason,
        }


def judge_as_rater(
    units: npt.ArrayLike,
    raters: npt.ArrayLike,
    values: npt.ArrayLike,
    judge_units: npt.ArrayLike,
    judge_values: npt.ArrayLike,
    *,
    level: Level,
    bootstrap_draws: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> JudgeSubstitution:
    """Alpha among humans against alpha with the judge substituted for each human in turn.

    Bootstrap draws resample the units that are pairable in at least one of the data sets
    and evaluate every data set on the same draw, which is what makes the interval of the
    difference valid.
    """
    level, humans, judge_u, judge_v = _inputs(units, raters, values, judge_units, judge_values, level,
                                               bootstrap_draws, ci_level)  # fmt: skip
    u_ids = humans.unit_ids[humans.unit]
    r_ids = humans.rater_ids[humans.rater]
    datasets = [humans]
    for code in range(humans.rater_ids.size):
        own = humans.rater == code
        _, in_own, in_judge = np.intersect1d(u_ids[own], judge_u, assume_unique=True, return_indices=True)
        datasets.append(
            as_ratings(
                np.concatenate([u_ids[~own], u_ids[own][in_own]]),
                np.concatenate([r_ids[~own], r_ids[own][in_own]]),
                np.concatenate([humans.values[~own], judge_v[in_judge]]),
            )
        )
    prepared = [prepare(d, level) for d in datasets]
    defined = [k for k, (stats, _) in enumerate(prepared) if stats is not None]
    draws: dict[int, np.ndarray] = {}
    if bootstrap_draws and defined:
        stats_list = [prepared[k][0] for k in defined]
        universe = np.unique(np.concatenate([s.unit_ids for s in stats_list if s is not None]))
        draws = dict(zip(defined, joint_draws(stats_list, universe, bootstrap_draws, seed), strict=True))  # type: ignore[arg-type]
    results: list[AlphaResult] = []
    for k, (stats, undefined) in enumerate(prepared):
        if stats is None:
            assert undefined is not None
            results.append(replace(undefined, ci_level=ci_level))
        else:
            results.append(result_of(stats, draws.get(k), ci_level))
    human, substituted = results[0], results[1:]
    usable = [k for k in range(1, len(results)) if results[k].alpha is not None]
    mean = float(np.mean([results[k].alpha for k in usable])) if usable else None
    difference = None if mean is None or human.alpha is None else mean - human.alpha
    mean_ci = difference_ci = None
    if draws and usable:
        mean_draws = np.mean([draws[k] for k in usable], axis=0)
        mean_ci = percentile_interval(mean_draws, ci_level)[0]
        if human.alpha is not None:
            difference_ci = percentile_interval(mean_draws - draws[0], ci_level)[0]
    reason = None
    if mean is None:
        reason = "no substitution yields a defined alpha (does the judge share units with the humans?)"
    return JudgeSubstitution(
        human=human,
        substituted={int(r): a for r, a in zip(humans.rater_ids.tolist(), substituted, strict=True)},
        mean_substituted=mean,
        mean_substituted_ci=mean_ci,
        difference=difference,
        difference_ci=difference_ci,
        ci_level=ci_level,
        reason=reason,
    )


@dataclass(frozen=True)
class TrustDecision:
    """Whether a judge may be trusted, and if not, why."""

    trusted: bool
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"trusted": self.trusted, "reason": self.reason}


def judge_trusted(
    judge_agreement: float | None,
    human_agreement: float | None,
    *,
    margin: float,
    units: int,
    min_units: int = 50,
) -> TrustDecision:
    """Trust a judge whose agreement is at most ``margin`` below the humans' own.

    The bar is relative because humans set the ceiling: on a task where humans reach
    alpha 0.6, a judge at 0.58 is as good as a human, while on one where they reach 0.9
    it is not.  Typical inputs: ``mean_substituted`` and ``human.alpha`` of
    :func:`judge_as_rater`.  With fewer than ``min_units`` compared units the estimate
    is too noisy to decide, so the judge is not trusted.
    """
    if margin < 0:
        raise ValueError(f"margin must be non-negative; got {margin!r}")
    if units < min_units:
        return TrustDecision(False, f"only {units} units compared; at least {min_units} are needed")
    if judge_agreement is None or not np.isfinite(judge_agreement):
        return TrustDecision(False, "the judge's agreement is undefined")
    if human_agreement is None or not np.isfinite(human_agreement):
        return TrustDecision(False, "the humans' agreement is undefined, so there is no bar to compare with")
    bar = human_agreement - margin
    if judge_agreement < bar:
        return TrustDecision(
            False,
            f"judge agreement {judge_agreement:.3f} is below human agreement {human_agreement:.3f} "
            f"minus margin {margin:.3f} (= {bar:.3f})",
        )
    return TrustDecision(True, None)
