"""Judge-first routing: which verdicts the judge may keep, and the order of the human queue.

Every item is judged first.  An item whose verdict's confidence reaches a threshold keeps the
judge's answer; the others go to people, least confident first.  The threshold is chosen on
gold (:func:`threshold_choose`) so that the judge's accuracy on the items it keeps is, with
stated confidence, at least a bar set by the humans (:func:`gold_accuracy` measures it).
:func:`slice_audit` looks for groups of items on which the judge is confidently wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from agreement._binomial import check_level, interval, lower_bounds
from agreement.calibration_map import calibration_map_fit


@dataclass(frozen=True)
class Proportion:
    """``successes`` of ``total`` with a two-sided exact (Clopper-Pearson) interval."""

    successes: int
    total: int
    value: float | None
    ci: tuple[float, float] | None
    ci_level: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "successes": int(self.successes),
            "total": int(self.total),
            "value": self.value,
            "ci": None if self.ci is None else [float(self.ci[0]), float(self.ci[1])],
            "ci_level": float(self.ci_level),
        }


def proportion(successes: int, total: int, *, ci_level: float = 0.95) -> Proportion:
    """:class:`Proportion` of ``successes`` in ``total`` (value and interval None when ``total`` is 0)."""
    check_level(ci_level)
    if total == 0:
        return Proportion(0, 0, None, None, ci_level)
    return Proportion(int(successes), int(total), successes / total, interval(int(successes), int(total), ci_level),
                      ci_level)  # fmt: skip


def gold_accuracy(values: npt.ArrayLike, gold: npt.ArrayLike, *, ci_level: float = 0.95) -> Proportion:
    """Share of ``values`` equal to the aligned ``gold`` values (NaN pairs skipped).

    This is the humans' bar for :func:`threshold_choose`.  Which values to pass decides what
    the judge is held to:

    * **the human label** of each gold item (its consensus under the project's policy): the
      judge must be as accurate as the label it replaces.  The bar to use when the aim is
      "judge-first labels are as good as the humans' would have been";
    * **single human ratings** of gold items (one row per rating): the judge must be as good
      as one rater.  Lower than the above wherever overlap > 1 improves labels;
    * pairwise exact agreement between humans (:func:`agreement.percent_agreement`) is lower
      still (two noisy raters agree less often than either matches gold) and is not on the
      same footing as an accuracy against gold; use it only when there is no gold.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    g = np.asarray(gold, dtype=np.float64).reshape(-1)
    if v.shape != g.shape:
        raise ValueError(f"values and gold must have equal lengths; got {v.size} and {g.size}")
    keep = ~(np.isnan(v) | np.isnan(g))
    return proportion(int((v[keep] == g[keep]).sum()), int(keep.sum()), ci_level=ci_level)


@dataclass(frozen=True)
class TradeoffPoint:
    """The judge keeps the items with confidence >= ``threshold``: ``kept`` of them
    (``kept_share`` of the gold set), ``accuracy`` on gold, and its one-sided lower bound."""

    threshold: float
    kept: int
    kept_share: float
    accuracy: float
    lower: float
    passes: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {k: (bool(v) if k == "passes" else int(v) if k == "kept" else float(v)) for k, v in vars(self).items()}


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen confidence threshold (None: the judge keeps nothing) and the trade-off curve.

    ``curve`` runs from the highest candidate threshold to the lowest, one point per
    candidate; ``tested`` counts the candidates tested before the first failure (see
    :func:`threshold_choose`).  ``kept_share``, ``accuracy`` and ``lower`` describe the chosen
    point.
    """

    threshold: float | None
    kept_share: float
    accuracy: float | None
    lower: float | None
    target: float
    ci_level: float
    tested: int
    curve: tuple[TradeoffPoint, ...]
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "threshold": self.threshold,
            "kept_share": float(self.kept_share),
            "accuracy": self.accuracy,
            "lower": self.lower,
            "target": float(self.target),
            "ci_level": float(self.ci_level),
            "tested": int(self.tested),
            "curve": [p.as_dict() for p in self.curve],
            "reason": self.reason,
        }


def threshold_choose(
    confidences: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    target: float,
    ci_level: float = 0.95,
    min_kept: int | None = None,
    max_candidates: int = 200,
) -> ThresholdChoice:
    """The lowest confidence threshold at which the judge's accuracy on kept items is >= ``target``.

    ``confidences`` and ``correct`` are the judge's verdicts on gold items (``correct``: the
    verdict matched gold).  Candidates are the distinct confidences keeping at least
    ``min_kept`` gold items, thinned to at most ``max_candidates`` evenly spread in count kept.
    They are tested from the highest threshold down: a threshold passes when the one-sided
    Clopper-Pearson lower bound (at ``ci_level``) on the accuracy of the items it keeps reaches
    ``target``, and testing stops at the first that fails.  The choice is the last that passed.

    The first test decides everything, so it must be able to pass: by default ``min_kept`` is
    the smallest count at which a record with two errors passes (at ``ci_level`` 0.95: 61
    items for a target of 0.90, 124 for 0.95, 208 for 0.97; all of the gold when there are
    fewer).  It depends on ``target`` and ``ci_level`` only, never on the data.

    Why a lower bound and why stop at the first failure: choosing the threshold where the
    point estimate crosses the bar keeps too much about half the time, and scanning every
    threshold for a passing bound would pick one that passed by luck.  Testing in a fixed
    order and stopping at the first failure (fixed-sequence testing, as in Learn-then-Test,
    Angelopoulos et al. 2021) bounds the chance that the chosen threshold's true accuracy is
    below ``target`` by ``1 - ci_level``, with no correction for the number of candidates.

    Assumptions: the gold items are a uniformly random sample of the items the threshold will
    be applied to, judged by the same judge version (so the order of candidates, which
    depends only on the confidences, is fixed before correctness is looked at); gold is right.
    The guarantee is about the accuracy over all items above the threshold, not on each one.
    """
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    hit = np.asarray(correct, dtype=np.float64).reshape(-1)
    if conf.shape != hit.shape:
        raise ValueError(f"confidences and correct must have equal lengths; got {conf.size} and {hit.size}")
    if not np.isfinite(conf).all():
        raise ValueError("confidences must be finite")
    if not np.isin(hit, (0.0, 1.0)).all():
        raise ValueError("correct must hold booleans (or 0/1)")
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must lie in (0, 1): no finite gold set shows an accuracy of 1; got {target!r}")
    check_level(ci_level)
    if min_kept is None:
        min_kept = start_count(target, ci_level, limit=max(conf.size, 1))
    if int(min_kept) != min_kept or min_kept < 1 or int(max_candidates) != max_candidates or max_candidates < 1:
        raise ValueError("min_kept and max_candidates must be positive integers")
    candidates, kept, right = _candidates(conf, hit, int(min_kept), int(max_candidates))
    lows = lower_bounds(right, kept, 1.0 - ci_level) if kept.size else np.zeros(0)
    curve: list[TradeoffPoint] = []
    tested, chosen = 0, None
    failed = False
    for t, k, r, low in zip(candidates.tolist(), kept.tolist(), right.tolist(), lows.tolist(), strict=True):
        passes = low >= target
        if not failed:
            tested += 1
            if passes:
                chosen = len(curve)
            else:
                failed = True
        curve.append(TradeoffPoint(t, int(k), k / conf.size, r / k, low, passes and not failed))
    if chosen is None:
        reason = (
            "no gold items" if not curve
            else f"the {curve[0].kept} most confident verdicts do not reach {target:.3f} at {ci_level:.0%}"
        )  # fmt: skip
        return ThresholdChoice(None, 0.0, None, None, target, ci_level, tested, tuple(curve), reason)
    best = curve[chosen]
    return ThresholdChoice(best.threshold, best.kept_share, best.accuracy, best.lower, target, ci_level, tested,
                           tuple(curve), None)  # fmt: skip


@lru_cache(maxsize=64)
def start_count(target: float, ci_level: float, *, errors: int = 2, limit: int = 1 << 16) -> int:
    """Smallest ``n`` at which ``n - errors`` correct of ``n`` passes the lower bound (``limit``
    if none up to it does): where a test of the judge's most confident verdicts can first
    survive a couple of unlucky errors."""
    delta, n = 1.0 - ci_level, errors + 1
    while n <= limit:
        sizes = np.arange(n, min(2 * n, limit + 1))  # doubling: the answer is found in O(log) steps
        passing = np.flatnonzero(lower_bounds(sizes - errors, sizes, delta) >= target)
        if passing.size:
            return int(sizes[passing[0]])
        n = int(sizes[-1]) + 1
    return limit


def _candidates(conf: np.ndarray, hit: np.ndarray, min_kept: int, max_candidates: int) -> tuple[np.ndarray, ...]:
    """Candidate thresholds (descending) with the count kept and correct at each."""
    if conf.size == 0:
        return conf, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(-conf, kind="stable")
    sorted_conf = conf[order]
    cum_right = np.cumsum(hit[order])
    # The last position of each run of equal confidences: a threshold keeps whole runs.
    ends = np.flatnonzero(np.r_[sorted_conf[1:] != sorted_conf[:-1], True])
    kept = ends + 1
    usable = kept >= min_kept
    ends, kept = ends[usable], kept[usable]
    if kept.size > max_candidates:
        goals = np.linspace(kept[0], kept[-1], max_candidates)
        pick = np.unique(np.searchsorted(kept, goals, side="left").clip(0, kept.size - 1))
        ends, kept = ends[pick], kept[pick]
    return sorted_conf[ends], kept, cum_right[ends].astype(np.int64)


def queue_order(item_ids: npt.ArrayLike, confidences: npt.ArrayLike) -> np.ndarray:
    """``item_ids`` in the order people should see them: lowest confidence first (ties by id).

    With a calibrated confidence (the probability of the verdict, method ``"top"``),
    ``1 - confidence`` is the probability that the correct label differs from the judge's,
    i.e. that a human answer changes the outcome; the queue serves the largest first.
    """
    ids = np.asarray(item_ids).reshape(-1)
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    if ids.shape != conf.shape:
        raise ValueError(f"item_ids and confidences must have equal lengths; got {ids.size} and {conf.size}")
    if np.isnan(conf).any():
        raise ValueError("confidences must not be NaN")
    return ids[np.lexsort((ids, conf))]


@dataclass(frozen=True)
class SliceAudit:
    """The judge on one slice of audited items: ``accuracy`` (with an interval adjusted for the
    number of slices) against ``expected_accuracy``, what the judge's confidence there, calibrated
    on the other slices, says it should be (``mean_confidence`` is the raw confidence's mean).
    ``overconfident``: the interval lies wholly below the expected accuracy; ``below_target``:
    wholly below the target, when given.  ``gap``: expected accuracy minus accuracy."""

    slice: Any
    accuracy: Proportion
    mean_confidence: float
    expected_accuracy: float
    gap: float
    overconfident: bool
    below_target: bool | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        value = self.slice if isinstance(self.slice, (str, bool, int)) or self.slice is None else str(self.slice)
        return {
            "slice": value,
            "accuracy": self.accuracy.as_dict(),
            "mean_confidence": float(self.mean_confidence),
            "expected_accuracy": float(self.expected_accuracy),
            "gap": float(self.gap),
            "overconfident": bool(self.overconfident),
            "below_target": self.below_target,
        }


def slice_audit(
    slices: Sequence[Any],
    correct: npt.ArrayLike,
    confidences: npt.ArrayLike,
    *,
    target: float | None = None,
    ci_level: float = 0.95,
) -> tuple[SliceAudit, ...]:
    """Per slice (a feature of the items: source, language, length bucket...), is the judge
    confidently wrong?  Slices with the largest gap (expected accuracy minus accuracy) come first.

    ``correct`` and ``confidences`` belong to audited items (a uniform random sample with gold
    or human labels): whether the judge matched that label, and the judge's confidence (method
    ``"top"``).  Pass only the items the judge would keep to audit exactly what it decides alone.
    Each slice's accuracy gets a Clopper-Pearson interval at ``1 - (1 - ci_level) / S`` for ``S``
    slices (Bonferroni), so the chance that any well-calibrated slice is flagged stays below
    ``1 - ci_level``.

    The interval is held against the accuracy the judge's confidences on the slice predict once
    calibrated on the *other* slices (``calibration_map_fit``, isotonic), not against the raw
    confidences: LLM judges claim more than they achieve everywhere, and against their raw numbers
    every slice large enough to have a tight interval would be flagged (in benchmarks/triage.py,
    up to 2 false flags per 5 projects, each sending a tenth to a quarter of the items back to
    people).  A slice is flagged when the judge is worse there than elsewhere at the same
    confidence.  A single slice has no others: it is held against its raw confidence.
    """
    labels = list(slices)
    hit = np.asarray(correct, dtype=np.float64).reshape(-1)
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    if not len(labels) == hit.size == conf.size:
        raise ValueError("slices, correct and confidences must have equal lengths")
    if not np.isin(hit, (0.0, 1.0)).all():
        raise ValueError("correct must hold booleans (or 0/1)")
    check_level(ci_level)
    groups: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    if not groups:
        return ()
    level = 1.0 - (1.0 - ci_level) / len(groups)
    out = []
    for label, rows in groups.items():
        idx = np.asarray(rows)
        acc = proportion(int(hit[idx].sum()), idx.size, ci_level=level)
        mean_conf = float(conf[idx].mean())
        expected = mean_conf
        if len(groups) > 1:
            others = np.ones(hit.size, dtype=bool)
            others[idx] = False
            elsewhere = calibration_map_fit(confidences=conf[others], correct=hit[others].astype(bool))
            expected = float(elsewhere.apply(conf[idx]).mean())
        assert acc.ci is not None and acc.value is not None
        out.append(
            SliceAudit(
                slice=label,
                accuracy=acc,
                mean_confidence=mean_conf,
                expected_accuracy=expected,
                gap=expected - acc.value,
                overconfident=acc.ci[1] < expected,
                below_target=None if target is None else acc.ci[1] < target,
            )
        )
    return tuple(sorted(out, key=lambda s: -s.gap))
