"""How sure a judge is of one verdict: a distribution over each criterion's scale and a confidence,
from the answers it drew (``JudgeVersion.samples``) and, where the provider returned them, the
log-probabilities of the score token (the maths: ``agreement.verdict_uncertainty``; docs/triage.md).

The distribution is stored on the verdict's rating (``Rating.distribution``) as
``{criterion_key: {"<scale point>": probability}}``, keyed like the samples' log-probabilities
(``JudgeSample.logprobs``: ``{criterion_key: {"<scale point>": logprob}}``): ``"true"`` and
``"false"`` for yes/no, the choice for a categorical scale, the integer for an ordinal one.
Interval and ratio scales have no finite set of points: their distribution is over the values
the samples gave. ``Rating.confidence`` is the least sure criterion's probability of the value
the judge gave: the event "every criterion is as the judge said" is at most that likely, and the
routing policy and calibration on gold compare it with exactly that event.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import agreement
from rubrics.scales import CriterionSpec, ScaleKind, point_label, value_code

_NUMBERS = (ScaleKind.INTERVAL, ScaleKind.RATIO)


def _points(scale: dict, observed: Sequence[Any]) -> list[Any] | None:
    """The scale's points as values (what ratings store), in scale order."""
    kind = scale["kind"]
    if kind == ScaleKind.BINARY:
        return [False, True]
    if kind == ScaleKind.CATEGORICAL:
        return list(scale["choices"])
    if kind == ScaleKind.ORDINAL:
        return list(range(scale["min"], scale["max"] + 1))
    if kind in _NUMBERS:
        return sorted(set(observed)) or None
    return None


def _probabilities(logprobs: dict | None, labels: list[str]) -> list[float] | None:
    """One answer's probability per point, NaN where the provider did not report it."""
    if not isinstance(logprobs, dict) or not logprobs:
        return None
    out = []
    for label in labels:
        lp = logprobs.get(label)
        usable = isinstance(lp, int | float) and not isinstance(lp, bool) and math.isfinite(lp)
        out.append(math.exp(min(lp, 0.0)) if usable else math.nan)
    if all(math.isnan(p) for p in out):
        return None
    # Providers round log-probabilities (and may list one point twice, "4" and " 4"), so what
    # they report can add up to a little over 1: scale it back rather than refuse the answer.
    reported = sum(p for p in out if not math.isnan(p))
    return [p / reported for p in out] if reported > 1 else out


def verdict_distribution(
    *,
    criteria: Sequence[CriterionSpec],
    values: dict,
    samples: Sequence[dict],
    logprobs: Sequence[dict | None] = (),
) -> tuple[dict[str, dict[str, float]], float | None]:
    """The distribution per criterion and the verdict's confidence (None: nothing to measure).

    ``values``: the verdict (the samples' aggregate). ``samples``: each valid answer's values, in
    sample order; ``logprobs``: each answer's ``{criterion_key: {"<point>": logprob}}`` or None,
    aligned with ``samples`` (shorter means the rest came without). A criterion the verdict left
    empty, or a text one, gets no distribution.
    """
    distribution: dict[str, dict[str, float]] = {}
    confidences = []
    for criterion in criteria:
        key, scale = criterion.key, criterion.scale
        if values.get(key) is None or scale["kind"] == ScaleKind.TEXT:
            continue
        given = [s.get(key) for s in samples]
        points = _points(scale, [v for v in given if v is not None])
        if not points:
            continue
        labels = [point_label(scale, p) for p in points]
        codes = [value_code(scale, p) for p in points]
        answers, vectors = [], []
        for i, value in enumerate(given):
            lp = logprobs[i] if i < len(logprobs) else None
            vector = _probabilities((lp or {}).get(key) if isinstance(lp, dict) else None, labels)
            if value is None and vector is None:
                continue  # this answer left the criterion empty
            answers.append(value_code(scale, value) if value is not None else None)
            vectors.append(vector)
        if not answers:
            continue
        level = "nominal" if scale["kind"] in (ScaleKind.BINARY, ScaleKind.CATEGORICAL) else criterion_level(scale)
        # An answer that came with probabilities but no value still counts through its vector; one
        # with a value the scale does not know (impossible after values_clean) is dropped.
        fallback = [a if a is not None else codes[0] for a in answers]
        try:
            result = _uncertainty(codes, level, fallback, vectors, value_code(scale, values[key]))
        except ValueError:
            continue  # malformed provider data never costs the verdict itself
        distribution[key] = {label: round(p, 6) for label, p in zip(labels, result.distribution, strict=True)}
        confidences.append(result.confidence)
    return distribution, (round(min(confidences), 6) if confidences else None)


def _uncertainty(codes, level, samples, vectors, verdict) -> agreement.VerdictUncertainty:
    """From the log-probabilities when usable, else from the sampled values alone."""
    if any(v is not None for v in vectors):
        try:
            return agreement.verdict_uncertainty(
                points=codes, level=level, samples=samples, probabilities=vectors, verdict=verdict, method="top"
            )
        except ValueError:
            pass
    return agreement.verdict_uncertainty(points=codes, level=level, samples=samples, verdict=verdict, method="top")


def criterion_level(scale: dict) -> str:
    """The agreement level of an ordered scale."""
    return {"ordinal": "ordinal", "interval": "interval", "ratio": "ratio"}[scale["kind"]]
