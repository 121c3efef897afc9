"""Diagnosis: why the posterior rule without a judge falls short of fixed overlap 3 on the ordinal
scale (benchmarks/triage.py's "posterior rule 1-5, no judge" row, issue 19).

    .venv/bin/python benchmarks/triage_gap.py             # make bench-triage-gap (20 seeds)
    .venv/bin/python benchmarks/triage_gap.py --seeds 5

The same simulated projects as benchmarks/triage.py (4,000 items, ordinal 1-5), each labelled by
the rule as benchmarked and by variants that differ in one thing only: what the rule knows about
the raters. Rows:

* as benchmarked: the rater model fitted after 250 items and again each time the ratings have
  doubled (the app's automatic refit), each rater's accuracy shrunk towards the pooled one by 10
  pseudo-ratings (``agreement.rater_model_fit``'s default); each fit re-decides the items before
  it as the app's does (reopened only below ``agreement.reopen_below``);
* stronger shrinkage (40, 80 pseudo-ratings);
* the last fit of the benchmarked run, used from the first item (no early fits);
* the simulator's own rater model: each rater's true mean accuracy, the true base rate and the
  true error matrix (the one thing that is still simplified is item difficulty, which the
  model does not have);
* the two halves swapped, used from the first item: the last fit with the raters' true
  accuracies, and the simulator's model with the last fit's accuracies (which half of the
  estimate costs the accuracy);
* a fit every 250 items instead (a manager pressing "Fit now" often), re-deciding as the app
  does; not re-deciding at all (each item decided once: what benchmarks/triage.py measured before
  2026-12-05's sixth stop); or reopening every item whose posterior is now below the new target
  (what the app did before: a ratchet).

Prints the human ratings saved against fixed overlap 3, the paired accuracy difference (mean and
standard error over the seeds) and the share of items a later fit reopened. Everything is seeded.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import _django  # noqa: F401  (puts the checkout on sys.path, for ``agreement``)
import numpy as np
from _triage_policies import fixed, rule_for
from _triage_posterior import posterior_adaptive
from _triage_world import (
    HUMAN_DIFFICULTY_PENALTY,
    HUMAN_FLOOR,
    ORDINAL_TWO_STEP_SHARE,
    TRUTH_WEIGHTS,
    World,
    world_make,
)

from agreement import RaterModel


def true_model(world: World) -> RaterModel:
    """The rater model the simulator draws from, averaged over the items' difficulty."""
    k = world.points.size
    errors = np.zeros((k, k))
    for y in range(k):
        for step, share in ((1, 1 - ORDINAL_TWO_STEP_SHARE), (2, ORDINAL_TWO_STEP_SHARE)):
            for sign in (-1, 1):
                landing = y + sign * step
                landing = landing if 0 <= landing < k else y - sign * step  # reflected at the ends
                errors[y, landing] += share / 2
    accuracy = np.maximum(world.rater_base[:, None] - HUMAN_DIFFICULTY_PENALTY * world.difficulty[None, :],
                          HUMAN_FLOOR).mean(axis=1)  # fmt: skip
    return RaterModel(points=tuple(world.points.tolist()), level="ordinal", prior=TRUTH_WEIGHTS["ordinal"],
                      pooled=float(accuracy.mean()), error_decay=0.25,
                      accuracy={r: float(a) for r, a in enumerate(accuracy)},
                      errors=tuple(tuple(float(w) for w in row) for row in errors))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seed in range(1, args.seeds + 1):
        world = world_make("ordinal", seed)
        base = fixed(world, rule_for(world, 0.25))
        benchmarked = posterior_adaptive(world, target="match")
        runs = {
            "as benchmarked (fits as the ratings double)": benchmarked,
            "shrinkage 40": posterior_adaptive(world, target="match", shrinkage=40.0),
            "shrinkage 80": posterior_adaptive(world, target="match", shrinkage=80.0),
            "last fit from the first item": posterior_adaptive(world, target="match",
                                                               model=benchmarked.extra["model"]),
            "fits every 250 items": posterior_adaptive(world, target="match", refit_growth=None),
            "fits every 250, each item decided once": posterior_adaptive(world, target="match", refit_growth=None,
                                                                         revisits="none"),
            "fits every 250, all below the new target reopened": posterior_adaptive(
                world, target="match", refit_growth=None, revisits="every"),
        }  # fmt: skip
        last, true = benchmarked.extra["model"], true_model(world)
        fitted = {r: last.accuracy.get(r, last.pooled) for r in true.accuracy}
        runs["last fit, the true accuracies"] = posterior_adaptive(
            world, target="match", model=dataclasses.replace(last, accuracy=true.accuracy, pooled=true.pooled)
        )
        with np.errstate(divide="ignore"):  # the true error matrix has zeros (no error lands 3 points off)
            runs["the simulator's rater model"] = posterior_adaptive(world, target="match", model=true)
            runs["the simulator's, the last fit's accuracies"] = posterior_adaptive(
                world, target="match", model=dataclasses.replace(true, accuracy=fitted, pooled=last.pooled)
            )
        for name, out in runs.items():
            saved = 1 - out.human_ratings / base.human_ratings
            diff = 100 * (out.accuracy(world) - base.accuracy(world))
            reopened = out.extra["reopened"] / world.truth.size
            rows.setdefault(name, []).append((saved, diff, reopened))
    print(f"ordinal 1-5, {args.seeds} seeds, against fixed overlap 3: mean (standard error)")
    print(f"{'the rule':<52}{'saved':<16}{'vs fixed 3 (points)':<22}reopened by a later fit")
    for name, values in rows.items():
        saved, diff, reopened = np.array(values).T
        se = lambda x: x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else float("nan")  # noqa: E731
        print(f"{name:<52}{100 * saved.mean():5.1f}% ({100 * se(saved):.1f})  {diff.mean():+6.2f} ({se(diff):.2f})"
              f"        {100 * reopened.mean():4.1f}%")  # fmt: skip
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
