"""The simulated projects of benchmarks/triage.py: items with a known true label, human raters and
an LLM judge with set noise. Every number that shapes the world is at the top of this file; the
benchmark decides with the agreement package's functions only.

Noise models
------------
* **Items.** A true label (binary: accepted with probability 0.7; ordinal 1-5 with the weights
  below), a difficulty ``d ~ Beta(2, 5)`` (mean 0.29) and a source (the slice feature).
* **Humans.** 30 raters with a base accuracy uniform in [0.85, 0.97]. On an item a rater is right
  with probability ``base - 0.20 d`` (at least 0.40; 0.85 on average); a wrong binary rating is
  the other label, a wrong ordinal one is 1 point off (80 %) or 2 points off (20 %), direction at
  random, reflected at the ends of the scale. Raters err independently given the item (so hard items are hard for
  everyone). Each item has its own random order of distinct raters; every policy draws its
  ratings from the front of that order, so policies are compared on the same people.
* **Judge.** Right with probability ``a = top - slope d`` (clipped to [0.50, 0.99] binary,
  [0.35, 0.99] ordinal), wrong in the humans' way otherwise. Two judges: *typical* (top 0.99,
  slope 0.60: right on 0.82 of the items outside the slice below, a little less than one
  rater's 0.85) and *strong* (top 0.995, slope 0.35: 0.89-0.90, better than one rater, and
  near-perfect on easy items). It reports a distribution over the scale: ``c`` on its answer
  with ``logit(c) = 1.25 logit(a) + N(0, 0.3)`` (overconfident: it claims more than ``a``), the
  rest on other points, mostly the neighbours, never as much as ``c``. Its answer is the
  distribution's mode (a temperature-0 call), its confidence the mode's probability. On ordinal
  scales the provider reports only the top 3 points (top-k log-probabilities); the rest is NaN.
  A second variant of each judge gives 5 samples drawn from the same distribution and no
  probabilities.
* **The confidently wrong slice.** On items from ``legal`` (10 %) the judge answers wrong with
  probability 0.9 (binary: the other label; ordinal: one point too high, or too low at 5) with
  confidence uniform in [0.85, 0.98].
* **Gold.** An expert reviewer labels audited items correctly (gold = truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALES = {"binary": np.array([0.0, 1.0]), "ordinal": np.array([1.0, 2.0, 3.0, 4.0, 5.0])}
TRUTH_WEIGHTS = {"binary": (0.3, 0.7), "ordinal": (0.10, 0.20, 0.30, 0.25, 0.15)}
ITEMS = 4000
RATERS = 30
MAX_OVERLAP = 5
RATER_ACCURACY = (0.85, 0.97)
DIFFICULTY_BETA = (2.0, 5.0)
HUMAN_DIFFICULTY_PENALTY = 0.20
HUMAN_FLOOR = 0.40
ORDINAL_TWO_STEP_SHARE = 0.20
JUDGES = {"typical": (0.99, 0.60), "strong": (0.995, 0.35)}  # accuracy = top - slope x difficulty
JUDGE_FLOOR = {"binary": 0.50, "ordinal": 0.35}
JUDGE_OVERCONFIDENCE = 1.25
JUDGE_CONFIDENCE_NOISE = 0.3
JUDGE_TOP_K = 3
JUDGE_SAMPLES = 5
SOURCES = {"forum": 0.25, "news": 0.20, "code": 0.20, "reviews": 0.15, "support": 0.10, "legal": 0.10}
WRONG_SLICE = "legal"
WRONG_SLICE_RATE = 0.9
WRONG_SLICE_CONFIDENCE = (0.85, 0.98)


@dataclass(frozen=True, eq=False)
class World:
    """One simulated project: ``ratings[i, j]`` is what item ``i``'s ``j``-th rater says."""

    kind: str
    points: np.ndarray
    truth: np.ndarray
    difficulty: np.ndarray
    source: np.ndarray
    raters: np.ndarray  # (items, MAX_OVERLAP) distinct rater ids per item
    ratings: np.ndarray  # (items, MAX_OVERLAP)
    judge_dist: np.ndarray  # (items, points): the judge's full distribution
    judge_answer: np.ndarray  # its mode, the temperature-0 answer
    judge_samples: np.ndarray  # (items, JUDGE_SAMPLES) answers drawn from judge_dist
    census: np.ndarray  # one more independent human rating of every item (for the noisy-audit check)
    rater_base: np.ndarray  # (RATERS,) each rater's base accuracy (hidden truth, for diagnoses only)

    @property
    def item_ids(self) -> np.ndarray:
        return np.arange(1, self.truth.size + 1)

    def reported(self, i: int) -> list[float]:
        """The judge's probability vector for item ``i`` as the provider reports it (top-k on ordinal)."""
        row = self.judge_dist[i].copy()
        if self.kind == "ordinal":
            row[np.argsort(-row, kind="stable")[JUDGE_TOP_K:]] = np.nan
        return row.tolist()


def _wrong(kind: str, truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A wrong label for each true label: the other one (binary) or 1-2 points off (ordinal)."""
    if kind == "binary":
        return 1.0 - truth
    step = np.where(rng.random(truth.shape) < ORDINAL_TWO_STEP_SHARE, 2.0, 1.0)
    sign = np.where(rng.random(truth.shape) < 0.5, -1.0, 1.0)
    off = truth + sign * step
    off = np.where((off < 1) | (off > 5), truth - sign * step, off)  # reflect at the ends
    return off


def _labels(kind: str, truth: np.ndarray, p_right: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.where(rng.random(truth.shape) < p_right, truth, _wrong(kind, truth, rng))


def world_make(kind: str, seed: int, *, judge: str = "typical", items: int = ITEMS) -> World:
    """A project of ``items`` items on the ``kind`` scale ("binary" or "ordinal") with the
    ``judge`` ("typical" or "strong"); the items and humans depend on ``kind`` and ``seed`` only."""
    rng = np.random.default_rng([seed, 0 if kind == "binary" else 1])
    points = SCALES[kind]
    truth = rng.choice(points, size=items, p=TRUTH_WEIGHTS[kind])
    difficulty = rng.beta(*DIFFICULTY_BETA, size=items)
    names = list(SOURCES)
    source = np.array(names)[rng.choice(len(names), size=items, p=list(SOURCES.values()))]
    base = rng.uniform(*RATER_ACCURACY, size=RATERS)
    raters = np.argsort(rng.random((items, RATERS)), axis=1)[:, : MAX_OVERLAP + 1]
    p_right = np.maximum(base[raters] - HUMAN_DIFFICULTY_PENALTY * difficulty[:, None], HUMAN_FLOOR)
    human = _labels(kind, np.repeat(truth[:, None], MAX_OVERLAP + 1, axis=1), p_right, rng)
    census = human[:, MAX_OVERLAP]
    judge_rng = np.random.default_rng([seed, 0 if kind == "binary" else 1, list(JUDGES).index(judge)])
    dist, answer = _judge(kind, JUDGES[judge], points, truth, difficulty, source, judge_rng)
    cdf = np.cumsum(dist, axis=1)
    draws = judge_rng.random((items, JUDGE_SAMPLES))
    picks = np.minimum((draws[:, :, None] > cdf[:, None, :]).sum(axis=2), points.size - 1)
    return World(kind, points, truth, difficulty, source, raters[:, :MAX_OVERLAP], human[:, :MAX_OVERLAP],
                 dist, answer, points[picks], census, base)  # fmt: skip


def _judge(kind: str, profile: tuple[float, float], points: np.ndarray, truth: np.ndarray, difficulty: np.ndarray,
           source: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The judge's reported distribution per item and its answer (the mode)."""
    n, k = truth.size, points.size
    top, slope = profile
    accuracy = np.clip(top - slope * difficulty, JUDGE_FLOOR[kind], 0.99)
    answer = _labels(kind, truth, accuracy, rng)
    logit = JUDGE_OVERCONFIDENCE * np.log(accuracy / (1 - accuracy))
    conf = 1 / (1 + np.exp(-(logit + rng.normal(0, JUDGE_CONFIDENCE_NOISE, n))))
    wrong = (source == WRONG_SLICE) & (rng.random(n) < WRONG_SLICE_RATE)
    shifted = 1.0 - truth if kind == "binary" else np.where(truth < 5, truth + 1, truth - 1)
    answer = np.where(wrong, shifted, answer)
    conf = np.where(source == WRONG_SLICE, rng.uniform(*WRONG_SLICE_CONFIDENCE, n), conf)
    conf = np.maximum(conf, 1.0 / k + 0.05)  # the answer is the mode
    at = np.searchsorted(points, answer)
    # The remainder goes mostly to the neighbours (weights 1, 0.2, 0.05 by distance), mixed with
    # uniform just enough that no other point reaches the answer's probability.
    distance = np.abs(np.arange(k)[None, :] - at[:, None])
    weight = np.select([distance == 1, distance == 2, distance > 2], [1.0, 0.2, 0.05], 0.0)
    weight /= weight.sum(axis=1, keepdims=True)
    rest = 1.0 - conf
    uniform = np.where(distance > 0, 1.0 / (k - 1), 0.0)
    top = weight.max(axis=1)
    mix = np.clip((top - 0.98 * conf / rest) / (top - 1.0 / (k - 1) + 1e-12), 0.0, 1.0)
    dist = rest[:, None] * ((1 - mix)[:, None] * weight + mix[:, None] * uniform)
    dist[np.arange(n), at] = conf
    return dist, answer
