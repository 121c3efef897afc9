"""Per-item disagreement scores, used to route contested items to review."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from agreement._data import Level, as_ratings, check_level, dense_codes, pairable
from agreement._ratio import ratio_distance
from agreement._stats import level_stats


def item_disagreement(
    units: npt.ArrayLike,
    raters: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    level: Level,
    scale: Sequence[float] | None = None,
) -> dict[int, float]:
    """Disagreement of each unit with two or more ratings, in [0, 1].

    Definition: the unit's mean distance over all pairs of its ratings, under the same
    difference function alpha uses for ``level``, divided by the largest distance between
    two points of the scale::

        score_u = mean_{i < j in u} delta(x_i, x_j) / max_{a, b in scale} delta(a, b)

    0 means every rater gave the same value; 1 means every pair of ratings sits at
    maximal distance (all different categories for nominal; for numeric levels two raters
    at opposite ends of the scale; with three or more raters a numeric score cannot
    exceed about 2/3, since some pair must share an end).  Unlike dividing by the data's
    expected disagreement, the score of an item does not move when other items are added
    (except at the ordinal level, whose metric is defined through the value marginals).

    ``scale`` is the full ordered scale (ordinal: every category in order; interval and
    ratio: at least its two end points).  Without it the observed extremes of the
    pairable ratings are used, so supply it when some end of the scale may be unused.
    Units with a single rating have no pair and are omitted.  Returns ``{unit id: score}``.
    """
    level = check_level(level)
    ratings = as_ratings(units, raters, values)
    p = pairable(ratings)
    if p.n_units == 0:
        return {}
    ends = _scale_ends(p.x, scale, level)
    if level == "ordinal" and scale is not None:
        # Midranks must run over the whole scale so that unused end categories count.
        full = np.asarray(scale, dtype=np.float64)
        distinct, codes = dense_codes(np.concatenate([full, p.x]))
        counts = np.bincount(codes[full.size :], minlength=distinct.size).astype(np.float64)
        midrank = np.cumsum(counts) - counts / 2.0
        largest = (midrank[-1] - midrank[0]) ** 2
    elif level == "ordinal":
        _, codes = dense_codes(p.x)
        counts = np.bincount(codes).astype(np.float64)
        midrank = np.cumsum(counts) - counts / 2.0
        largest = (midrank[-1] - midrank[0]) ** 2
    elif level == "nominal":
        largest = 1.0
    elif level == "interval":
        largest = (ends[1] - ends[0]) ** 2
    else:
        largest = float(ratio_distance(ends[0], ends[1]))
    stats = level_stats(p, level)
    # do_u = sum_{i != j} delta / (m - 1), so the mean over the m (m - 1) ordered pairs is do_u / m.
    mean_distance = stats.do_u / stats.m
    scores = np.clip(mean_distance / largest, 0.0, 1.0) if largest > 0.0 else np.zeros(p.n_units)
    return dict(zip(p.unit_ids.tolist(), scores.tolist(), strict=True))


def _scale_ends(x: np.ndarray, scale: Sequence[float] | None, level: Level) -> tuple[float, float]:
    lo, hi = float(x.min()), float(x.max())
    if scale is not None:
        points = np.asarray(scale, dtype=np.float64)
        if points.ndim != 1 or points.size == 0:
            raise ValueError("scale must be a non-empty 1-D sequence")
        if level == "ordinal":
            if not np.isin(x, points).all():
                raise ValueError("a rating is not among the categories of the scale")
            if np.any(np.diff(points) <= 0):
                raise ValueError("ordinal scale must list distinct categories in increasing order")
        elif level != "nominal" and (lo < points.min() or hi > points.max()):
            raise ValueError("a rating lies outside the scale")
        lo, hi = float(points.min()), float(points.max())
    if level == "ratio" and lo < 0:
        raise ValueError("ratio-level disagreement scores need non-negative values")
    return lo, hi
