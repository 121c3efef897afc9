"""Which posterior target reaches a given accuracy with the fewest ratings (pre-posterior analysis).

The posterior rule's items stop at or above the target, many well above it (two agreeing raters
are usually far surer than needed), so a rule with target ``t`` is on average more accurate than
``t``.  To match fixed overlap 3 rather than overshoot it, :func:`posterior_target_choose`
simulates items under the fitted model itself (labels from the prior or from the judge's
calibrated distributions of real items, raters drawn from the fitted accuracies, ratings from
the rater model), runs the rule at every candidate target, and returns the lowest target whose
expected accuracy reaches the reference: by default the accuracy of a fixed majority of three
(lower median on ordinal scales) on the same simulated items.  Everything is as good as the
model: where real raters share hard items, the simulation is optimistic about agreeing ratings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from agreement.posterior import DEFAULT_ERROR_DECAY, PosteriorLevel, _normalised, error_spread

DEFAULT_CANDIDATES = tuple(np.round(np.arange(0.50, 0.9951, 0.005), 3))


@dataclass(frozen=True)
class TargetChoice:
    """The chosen target, what the model expects of it, and the curve over the candidates
    (``(target, expected accuracy, expected human ratings per item)``)."""

    target: float
    expected_accuracy: float
    expected_ratings: float
    reference_accuracy: float
    reference_ratings: float
    curve: tuple[tuple[float, float, float], ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"target": self.target, "expected_accuracy": round(self.expected_accuracy, 6),
                "expected_ratings": round(self.expected_ratings, 6),
                "reference_accuracy": round(self.reference_accuracy, 6),
                "reference_ratings": self.reference_ratings}  # fmt: skip


def posterior_target_choose(
    *,
    points: Sequence[Any],
    rater_accuracies: npt.ArrayLike,
    level: PosteriorLevel = "nominal",
    prior: npt.ArrayLike | None = None,
    judge_dists: npt.ArrayLike | None = None,
    min_overlap: int | npt.ArrayLike = 1,
    accuracy_shift: npt.ArrayLike | None = None,
    max_overlap: int = 5,
    error_decay: float = DEFAULT_ERROR_DECAY,
    error_matrix: npt.ArrayLike | None = None,
    accuracy: float | None = None,
    reference_overlap: int = 3,
    simulations: int = 4000,
    candidates: Sequence[float] = DEFAULT_CANDIDATES,
    seed: int = 0,
) -> TargetChoice:
    """The lowest candidate target whose expected accuracy under the model reaches ``accuracy``
    (default: fixed overlap ``reference_overlap``'s expected accuracy on the same simulated items).

    ``rater_accuracies``: the fitted accuracies (one per rater; each simulated rating draws one).
    ``judge_dists``: calibrated distributions of real items (rows), each simulated item takes one
    at random as its label's distribution and the rule's starting point; ``min_overlap`` may then
    be one value per row (0 where the judge may decide alone), and so may ``accuracy_shift``: the
    logit shift of every rater's accuracy on that row's item (``RaterModel.shift`` of its difficulty
    covariate), which both the simulated raters and the rule's posterior use.  Without them, labels
    come from ``prior`` (default uniform).  Errors are spread by ``error_matrix`` (the fitted
    ``RaterModel.errors``) when given, else by ``level`` and ``error_decay``.  No candidate
    reaching it: the highest candidate."""
    scale = list(points)
    k = len(scale)
    acc = np.asarray(rater_accuracies, dtype=float).ravel()
    if k < 2 or acc.size == 0 or np.any((acc <= 0) | (acc >= 1)):
        raise ValueError("need a scale of two points or more and rater accuracies in (0, 1)")
    if int(max_overlap) != max_overlap or max_overlap < max(1, reference_overlap if accuracy is None else 1):
        raise ValueError(f"max_overlap must be an integer >= the reference overlap; got {max_overlap!r}")
    rng = np.random.default_rng(seed)
    m = int(simulations)
    if judge_dists is not None:
        dists = np.asarray(judge_dists, dtype=float)
        if dists.ndim != 2 or dists.shape[1] != k:
            raise ValueError(f"judge_dists must be rows of {k} probabilities")
        rows = rng.integers(0, dists.shape[0], size=m)
        start = dists[rows] / dists[rows].sum(axis=1, keepdims=True)
        mins = np.broadcast_to(np.asarray(min_overlap), (dists.shape[0],))[rows]
        shift = np.broadcast_to(np.asarray(0.0 if accuracy_shift is None else accuracy_shift, dtype=float),
                                (dists.shape[0],))[rows]  # fmt: skip
    else:
        base = np.full(k, 1.0 / k) if prior is None else _normalised(np.asarray(prior, dtype=float))
        start = np.tile(base, (m, 1))
        mins = np.full(m, int(np.asarray(min_overlap).ravel()[0]))
        shift = np.zeros(m)
    truth = (start.cumsum(axis=1) > rng.random((m, 1))).argmax(axis=1)
    a = rng.choice(acc, size=(m, max_overlap))
    if np.any(shift != 0):
        lo, hi = 0.05, 0.995  # the rater model's range
        base = np.log(np.clip(a, lo, hi) / (1 - np.clip(a, lo, hi)))
        a = np.clip(1 / (1 + np.exp(-(base + shift[:, None]))), lo, hi)
    weights = error_spread(k, level, float(error_decay), error_matrix)
    errs = (weights[truth][:, None, :].cumsum(axis=2) > rng.random((m, max_overlap, 1))).argmax(axis=2)
    ratings = np.where(rng.random((m, max_overlap)) < a, truth[:, None], errs)  # (m, max_overlap)
    # Posterior after 0..max ratings, as the rule computes it (the raters' accuracies known).
    log = np.log(np.maximum(start, 1e-300))
    best_p, best = np.empty((m, max_overlap + 1)), np.empty((m, max_overlap + 1), dtype=int)
    for n in range(max_overlap + 1):
        post = np.exp(log - log.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
        best_p[:, n], best[:, n] = post.max(axis=1), post.argmax(axis=1)
        if n < max_overlap:
            r, an = ratings[:, n], a[:, n][:, None]
            like = np.where(np.arange(k)[None, :] == r[:, None], an, (1 - an) * weights[:, r].T)
            log = log + np.log(like)
    reference_ratings = float(reference_overlap)
    if accuracy is None:
        first = np.sort(ratings[:, :reference_overlap], axis=1)
        if level == "ordinal":
            label = first[:, (reference_overlap - 1) // 2]
        else:
            counts = np.stack([(first == p).sum(axis=1) for p in range(k)], axis=1)
            label = counts.argmax(axis=1)  # ties: the lower point (rare at odd overlaps on two points)
        accuracy = float((label == truth).mean())
    curve = []
    allowed = np.arange(max_overlap + 1)[None, :] >= mins[:, None]
    for t in sorted(float(c) for c in candidates):
        stop_ok = allowed & (best_p >= t)
        stop_ok[:, max_overlap] = True
        stop = stop_ok.argmax(axis=1)
        label = best[np.arange(m), stop]
        curve.append((t, float((label == truth).mean()), float(stop.mean())))
    chosen = next((c for c in curve if c[1] >= accuracy), curve[-1])
    return TargetChoice(chosen[0], chosen[1], chosen[2], float(accuracy), reference_ratings, tuple(curve))


@dataclass(frozen=True)
class JudgeAloneChoice:
    """Whether, and from which calibrated confidence, the judge decides an item with no human under
    the posterior rule (``threshold``; None: never), with the target that goes with it
    (``choice``) and the one for the judge never alone (``without``, the same when ``threshold``
    is None)."""

    threshold: float | None
    choice: TargetChoice
    without: TargetChoice

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {"threshold": self.threshold, "choice": self.choice.as_dict(), "without": self.without.as_dict()}


def judge_alone_choose(
    *,
    gold_calibrated: npt.ArrayLike,
    gold_correct: npt.ArrayLike,
    calibrated: npt.ArrayLike,
    judge_dists: npt.ArrayLike,
    min_overlap: int = 1,
    ci_level: float = 0.95,
    rounds: int = 4,
    **target_args: Any,
) -> JudgeAloneChoice:
    """The posterior rule's judge-alone decision for a calibrated judge, chosen before any item is
    decided (a pre-posterior choice, like the target).

    The rule lets the judge settle an item alone when its calibrated probability reaches the
    target; the target itself must then be higher, to make up on the rated items for the judge's
    errors on the items it keeps. So: start from the target with the judge allowed alone
    everywhere; keep it alone only from the lowest calibrated confidence at which its accuracy on
    gold is shown to reach that target (:func:`agreement.threshold_choose`: a one-sided
    ``ci_level`` lower bound, fixed-sequence testing, on the gold items' calibrated confidences
    ``gold_calibrated`` and whether the verdict was right, ``gold_correct``); recompute the target
    for that gate, and repeat (at most ``rounds`` times) until the target stops moving. The gate is
    kept only when the model expects fewer human ratings with it than with the judge never alone
    (``min_overlap`` everywhere): for a judge little better than one person, raising everyone's
    target costs more ratings than the items it keeps save.

    ``calibrated``: each row of ``judge_dists``'s calibrated probability of its verdict (what the
    gate compares); the remaining arguments are :func:`posterior_target_choose`'s (``accuracy_shift``
    per row included)."""
    from agreement.triage import threshold_choose  # the judge-first threshold's guarantee, reused

    conf = np.asarray(calibrated, dtype=float).ravel()
    dists = np.asarray(judge_dists, dtype=float)
    if dists.ndim != 2 or dists.shape[0] != conf.size:
        raise ValueError("calibrated needs one value per row of judge_dists")
    gold_c = np.asarray(gold_calibrated, dtype=float).ravel()
    gold_ok = np.asarray(gold_correct, dtype=bool).ravel()
    without = posterior_target_choose(judge_dists=dists, min_overlap=min_overlap, **target_args)
    if gold_c.size == 0:
        return JudgeAloneChoice(None, without, without)
    choice = posterior_target_choose(judge_dists=dists, min_overlap=0, **target_args)
    threshold: float | None = None
    for _ in range(max(1, int(rounds))):
        threshold = threshold_choose(gold_c, gold_ok, target=choice.target, ci_level=ci_level).threshold
        if threshold is None:
            return JudgeAloneChoice(None, without, without)
        mins = np.where(conf >= threshold, 0, min_overlap)
        moved = posterior_target_choose(judge_dists=dists, min_overlap=mins, **target_args)
        settled = moved.target == choice.target
        choice = moved
        if settled:
            break
    if choice.expected_ratings >= without.expected_ratings:
        return JudgeAloneChoice(None, without, without)
    return JudgeAloneChoice(threshold, choice, without)


def reopen_below(*, probabilities: npt.ArrayLike, targets: npt.ArrayLike, references: npt.ArrayLike) -> float:
    """After a new fit, below which posterior an item the rule already settled is reopened for one
    more rating (0.0: none is).

    The target promises fixed overlap's accuracy *on average*, not on each item: items stop at or
    above it, most far above. Under a new fit some settled items fall below the new target; asking
    all of them again (a ratchet: each fit's noise reopens a few more, none is ever closed by it)
    spends ratings the promise does not need. So: ``probabilities``, the settled items' posterior of
    their label under the new fit; while their sum is below the sum of ``references`` (each item's
    expected accuracy of fixed overlap under the fit), reopen the least sure first, counting each as
    reaching its ``targets`` entry, until it is not. Returns just above the last reopened item's
    probability; 1.0 when even reopening all of them is not enough (then every item below its target
    is reopened, as without this rule)."""
    p = np.asarray(probabilities, dtype=float).ravel()
    t = np.broadcast_to(np.asarray(targets, dtype=float), p.shape)
    ref = np.broadcast_to(np.asarray(references, dtype=float), p.shape)
    short = float(ref.sum() - p.sum())
    if p.size == 0 or short <= 0:
        return 0.0
    order = np.argsort(p, kind="stable")
    reached = np.cumsum(np.maximum(t[order] - p[order], 0.0)) >= short - 1e-12
    if not reached.any():
        return 1.0
    return float(np.nextafter(p[order][int(reached.argmax())], np.inf))
