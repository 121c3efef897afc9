"""Shared data for the agreement-engine tests (pure numpy; no Django, no database)."""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np

NAN = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section B: observers
# A-D (rows) x units 1-12 (columns), values 1-5, missing marked NaN.  Published alphas:
# nominal 0.743, ordinal 0.815, interval 0.849, ratio 0.797.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)

# Krippendorff (2011), section A: two observers, ten units, binary; published alpha 0.095.
KRIPPENDORFF_2011_BINARY = np.array(
    [
        [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
        [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
    ],
    dtype=float,
)

# Hayes & Krippendorff (2007), Table 1: 40 news articles rated by five observers for the
# challenger's chances, 0-3, "." = missing; one article per "|"-separated group, ten per
# line.  Published ordinal alpha (KALPHA macro output): 0.7598.
_HAYES_2007_ARTICLES = """
1 1 2 . 2|1 1 0 1 .|2 3 3 3 .|. 0 0 . 0|0 0 0 . 0|0 0 0 . 0|1 0 2 . 1|1 . 2 0 .|2 2 2 . 2|2 1 1 1 .
. 1 0 0 .|0 0 0 0 .|1 2 2 2 .|3 3 2 2 3|1 1 1 . 1|1 1 1 . 1|2 1 2 . 2|1 2 3 3 .|1 1 0 1 .|0 0 0 . 0
0 0 1 1 .|0 0 . 0 0|2 3 3 3 .|0 0 0 0 .|1 2 . 2 2|0 1 1 1 .|0 0 0 1 0|1 2 1 2 .|1 1 2 2 .|1 1 2 . 2
1 1 0 . 0|2 1 2 1 .|2 2 . 2 2|3 2 2 2 .|2 2 2 . 2|2 2 3 . 2|2 2 2 . 2|2 2 . 1 2|2 2 2 2 .|1 1 1 . 1
"""
HAYES_2007 = np.array(
    [
        [NAN if cell == "." else float(cell) for cell in article.split()]
        for article in _HAYES_2007_ARTICLES.strip().replace("\n", "|").split("|")
    ]
).T  # observers x articles


# Wikipedia, "Krippendorff's alpha", computational example: 3 coders x 15 units.
# Published: nominal 0.691, interval 0.811.
WIKIPEDIA = np.array(
    [
        [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
        [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
    ]
)


def reference_alpha(matrix: np.ndarray, level: str) -> float | None:
    """``krippendorff.alpha`` or None where it raises or returns a non-finite value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))
        except ValueError:
            return None
    return value if np.isfinite(value) else None


def random_matrix(seed: int, level: str) -> np.ndarray:
    """A raters x units reliability matrix with missing cells; domain varies with the seed."""
    rng = np.random.default_rng(seed)
    n_raters = int(rng.integers(2, 7))
    n_units = int(rng.integers(2, 80))
    domain = seed % 5
    if domain == 0:
        data = rng.integers(1, 6, (n_raters, n_units)).astype(float)  # 5-point scale
    elif domain == 1:
        data = rng.integers(0, 2, (n_raters, n_units)).astype(float)  # binary
    elif domain == 2:
        data = rng.integers(0, 101, (n_raters, n_units)).astype(float)  # 0-100 slider
    elif domain == 3 and level in ("interval", "ratio"):
        data = np.round(rng.gamma(2.0, 3.0, (n_raters, n_units)), 3)  # float scores
    elif domain == 3:
        data = rng.integers(-3, 4, (n_raters, n_units)).astype(float)  # scale around zero
    else:
        # Units with a latent truth, so alpha is well away from zero.
        truth = rng.integers(1, 8, n_units)
        data = (truth + rng.integers(-1, 2, (n_raters, n_units))).astype(float)
    data[rng.random(data.shape) < rng.uniform(0.0, 0.5)] = NAN
    return data
