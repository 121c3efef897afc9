"""Benchmark: judge-first triage and adaptive overlap on simulated projects with a known truth.

    .venv/bin/python benchmarks/triage.py                          # make bench-triage
    .venv/bin/python benchmarks/triage.py --seeds 2 --datasets 100  # a quicker look

Part 1 labels each simulated project (4,000 items; the world and its noise models are stated at
the top of benchmarks/_triage_world.py) under each policy of benchmarks/_triage_policies.py and
prints, over several seeds (mean [min-max]): human ratings per item (expert gold of the audit
included), the share saved against fixed overlap 3, the accuracy of the final labels against
the truth and its difference from fixed overlap 3 on the same world (same raters, same errors),
items left without consensus, and Krippendorff's alpha of the human ratings collected.

Part 2 draws 500 datasets per quantity and checks the 95 % intervals of agreement.mean_estimates
(PPI, PPI++, human-only, judge-only) against the true dataset mean, with the audit labelled by
an expert (gold = truth) and, separately, by one ordinary rater (the target is then the mean of
such raters' labels over all items, which the simulation knows).

Targets (issue 19): adaptive overlap reaches fixed overlap 3's accuracy with >= 30 % fewer human
ratings; judge-first with >= 60 % fewer; the confidently wrong slice is caught by the audit;
the intervals cover in >= 93 % of datasets and are narrower than human-only at the same budget.
"Reaches" here: the mean paired difference in accuracy is at least -0.5 percentage points.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from datetime import UTC, datetime

import _django  # noqa: F401  (puts the checkout on sys.path, for ``agreement``)
import numpy as np
from _triage_policies import Outcome, adaptive, fixed, judge_first, judge_output, rule_for
from _triage_posterior import posterior_adaptive, posterior_judge_first, posterior_summary
from _triage_world import WRONG_SLICE, World, world_make

from agreement import audit_sample, mean_estimates

SCENARIOS = (("binary", 0.0), ("ordinal", 0.25), ("ordinal", 0.0))
REACH_PP = -0.5
ADAPTIVE_SAVING, JUDGE_FIRST_SAVING, COVERAGE = 0.30, 0.60, 0.93
JUDGE_FIRST = "judge-first, label bar"
JUDGE_FIRST_RATER = "judge-first, one-rater bar"
CHECK = "adaptive 1-5, judge as a check"
POSTERIOR = "posterior rule 1-5, no judge"
POSTERIOR_JF = "posterior judge-first"
POSTERIOR_JF_REVIEWER = "posterior judge-first, audit by reviewer only"
POSTERIOR_JF_MINIMUM = "posterior judge-first, audit by one person + reviewer"
COLUMNS = ("ratings", "saved", "acc", "diff", "within", "open", "alpha")


def _span(values: list[float], fmt: str = "{:.3f}") -> str:
    """``mean [min-max]`` of per-seed values."""
    if not values:
        return "-"
    return f"{fmt.format(np.mean(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def _line(cells: list[tuple[str, int]]) -> str:
    """Cells padded to their widths."""
    return "".join(f"{text:<{width}}" for text, width in cells).rstrip()


def _policies(kind: str, seed: int, tolerance: float) -> tuple[dict[str, Outcome], dict[str, World]]:
    """Every policy on one project (the same items and raters; two judges)."""
    worlds = {j: world_make(kind, seed, judge=j) for j in ("typical", "strong")}
    rule = rule_for(worlds["typical"], tolerance)
    outcomes = {
        "fixed overlap 3": fixed(worlds["typical"], rule),
        "adaptive 2-5, no judge": adaptive(worlds["typical"], rule, judge=None),
        POSTERIOR: posterior_adaptive(worlds["typical"], target="match"),
    }
    for name, world in worlds.items():
        logprobs, samples = judge_output(world, samples=False), judge_output(world, samples=True)
        outcomes |= {
            f"{name} judge: {CHECK}": adaptive(world, rule, judge=logprobs.verdict),
            f"{name} judge: {JUDGE_FIRST}": judge_first(world, rule, logprobs),
            f"{name} judge: {JUDGE_FIRST}, 5 samples": judge_first(world, rule, samples),
            f"{name} judge: {JUDGE_FIRST}, people 2-5 no judge": judge_first(world, rule, logprobs, judge_check=False),
            f"{name} judge: {JUDGE_FIRST_RATER}": judge_first(world, rule, logprobs, bar="rater"),
            f"{name} judge: {JUDGE_FIRST_RATER}, no slice check": judge_first(
                world, rule, logprobs, bar="rater", slice_check=False
            ),
            f"{name} judge: {POSTERIOR_JF}": posterior_judge_first(world, logprobs, target="match"),
            f"{name} judge: {POSTERIOR_JF}, 5 samples": posterior_judge_first(world, samples, target="match"),
            f"{name} judge: {POSTERIOR_JF_MINIMUM}": posterior_judge_first(
                world, logprobs, target="match", audit_labelled_by="minimum"
            ),
            f"{name} judge: {POSTERIOR_JF_REVIEWER}": posterior_judge_first(
                world, logprobs, target="match", audit_labelled_by="reviewer"
            ),
        }
    return outcomes, worlds


def part_one(seeds: int) -> list[str]:
    """Run every scenario; print its table; return the verdicts on the targets."""
    verdicts = []
    for kind, tolerance in SCENARIOS:
        rows: dict[str, dict[str, list]] = {}
        details: dict[str, list] = {"typical": [], "strong": []}
        posterior: dict[str, list[str]] = {"typical": [], "strong": []}
        for seed in range(1, seeds + 1):
            outcomes, worlds = _policies(kind, seed, tolerance)
            world = worlds["typical"]  # the truth and the humans are the same in both
            base = outcomes["fixed overlap 3"]
            for name, out in outcomes.items():
                row = rows.setdefault(name, {k: [] for k in COLUMNS})
                row["ratings"].append(out.human_ratings / world.truth.size)
                row["saved"].append(1 - out.human_ratings / base.human_ratings)
                row["acc"].append(out.accuracy(world))
                row["diff"].append(100 * (out.accuracy(world) - base.accuracy(world)))
                row["within"].append(float((np.abs(out.labels - world.truth) <= 1).mean()))
                row["open"].append(100 * out.unresolved / world.truth.size)
                a = out.alpha(world)
                if a is not None:
                    row["alpha"].append(a)
            for judge in details:
                pair = (outcomes[f"{judge} judge: {JUDGE_FIRST}"], outcomes[f"{judge} judge: {JUDGE_FIRST_RATER}"])
                details[judge].append((seed, world, pair))
                posterior[judge].append(
                    f"    seed {seed}: {posterior_summary(outcomes[f'{judge} judge: {POSTERIOR_JF}'], world)}"
                )
        title = "binary, majority 2/3" if kind == "binary" else f"ordinal 1-5, spread tolerance {tolerance:g}"
        print(f"\n== {title}: {world.truth.size:,} items, seeds 1-{seeds}: mean [min-max] ==")
        within = [("within 1 point", 22)] if kind == "ordinal" else []
        head = [("policy", 72), ("ratings/item", 19), ("saved", 16), ("accuracy", 22), ("vs fixed 3 (pp)", 20)]
        print(_line([*head, *within, ("unresolved %", 18), ("alpha", 0)]))
        for name, row in rows.items():
            cells = [
                (name, 72),
                (_span(row["ratings"], "{:.2f}"), 19),
                (_span([100 * s for s in row["saved"]], "{:.0f}%"), 16),
                (_span(row["acc"]), 22),
                (_span(row["diff"], "{:+.1f}"), 20),
            ]
            if kind == "ordinal":
                cells.append((_span(row["within"]), 22))
            print(_line([*cells, (_span(row["open"], "{:.1f}"), 18), (_span(row["alpha"], "{:.2f}"), 0)]))
        for judge, runs in details.items():
            _details(judge, runs)
            print(f"  {judge} judge, posterior judge-first (log-probs), per seed:")
            print("\n".join(posterior[judge]))
        verdicts += _verdicts(title, rows, details)
    return verdicts


def _details(judge: str, runs: list[tuple[int, World, tuple[Outcome, Outcome]]]) -> None:
    print(f"  {judge} judge, judge-first (log-probs), per seed. For each bar (the humans' accuracy on the audit's")
    print("  gold): the threshold chosen and the share of items the judge kept, with its accuracy on them. The slices")
    print(f"  the audit flagged (the judge on {WRONG_SLICE}: right / audited, interval, mean confidence, accuracy its")
    print("  calibration on the other slices expects). PPI++ estimate:")
    for seed, world, pair in runs:
        parts = []
        for name, out in zip(("label", "rater"), pair, strict=True):
            x = out.extra
            kept = "keeps nothing"
            if x["threshold"] is not None:
                kept = f"t {x['threshold']:.3f} keeps {x['kept_share']:.0%} at {x['kept_accuracy']:.3f}"
            parts.append(f"{name} bar {x['bar']:.3f}: {kept}")
        x = pair[0].extra
        audit = next(s for s in x["slices"] if s.slice == WRONG_SLICE)
        right, ci, est = audit.accuracy, audit.accuracy.ci, x["estimate"].ppi_plus
        flagged = ", ".join(x["flagged"]) or "nothing"
        slice_report = (f"{right.successes}/{right.total}, {ci[0]:.2f}-{ci[1]:.2f}, {audit.mean_confidence:.2f}, "
                        f"{audit.expected_accuracy:.2f}")  # fmt: skip
        estimate = f"{est.estimate:.3f} [{est.ci[0]:.3f}, {est.ci[1]:.3f}], truth {world.truth.mean():.3f}"
        print(f"    seed {seed}: {'; '.join(parts)}; flagged {flagged} ({slice_report}); {estimate}")


def _verdicts(title: str, rows: dict[str, dict[str, list]], details: dict[str, list]) -> list[str]:
    def check(name: str, saving: float) -> str:
        row = rows[name]
        saved, diff = float(np.mean(row["saved"])), float(np.mean(row["diff"]))
        ok = saved >= saving and diff >= REACH_PP
        return (f"{'MET    ' if ok else 'NOT MET'} {title}: {name} saves {saved:.0%} (target >= {saving:.0%}) "
                f"at {diff:+.1f} pp accuracy (target >= {REACH_PP:+.1f} pp)")  # fmt: skip

    out = [check("adaptive 2-5, no judge", ADAPTIVE_SAVING), check(POSTERIOR, ADAPTIVE_SAVING)]
    for judge, runs in details.items():
        out.append(check(f"{judge} judge: {CHECK}", ADAPTIVE_SAVING))
        for variant in (POSTERIOR_JF, f"{POSTERIOR_JF}, 5 samples", POSTERIOR_JF_MINIMUM, POSTERIOR_JF_REVIEWER):
            out.append(check(f"{judge} judge: {variant}", JUDGE_FIRST_SAVING))
        out.append(check(f"{judge} judge: {JUDGE_FIRST}", JUDGE_FIRST_SAVING))
        out.append(check(f"{judge} judge: {JUDGE_FIRST_RATER}", JUDGE_FIRST_SAVING))
        caught = sum(WRONG_SLICE in pair[0].extra["flagged"] for _, _, pair in runs)
        false = sum(len([s for s in pair[0].extra["flagged"] if s != WRONG_SLICE]) for _, _, pair in runs)
        out.append(f"{'MET    ' if caught == len(runs) else 'NOT MET'} {title}: {judge} judge: the {WRONG_SLICE} slice "
                   f"flagged by the audit in {caught} of {len(runs)} runs (other slices flagged: {false})")  # fmt: skip
    return out


QUANTITIES = {
    "share accepted (binary)": ("binary", lambda x: x),
    "mean score (ordinal)": ("ordinal", lambda x: x),
    "share scoring >= 4 (ordinal)": ("ordinal", lambda x: (x >= 4).astype(float)),
}


def part_two(datasets: int) -> list[str]:
    """Coverage and width of the intervals over ``datasets`` simulated datasets per quantity."""
    print(f"\n== intervals of the dataset's mean label: {datasets} datasets per row, 4,000 items, audit 400 ==")
    widths = (46, 13, 11, 13, 13, 13, 13, 16, 0)
    head = ("quantity / audit labelled by", "PPI++ cover", "PPI cover", "human cover", "judge cover",
            "PPI++ width", "human width", "PPI++ narrower", "bias vs truth")  # fmt: skip
    print(_line(list(zip(head, widths, strict=True))))
    verdicts = []
    for name, (kind, code) in QUANTITIES.items():
        for labeller in ("expert (gold)", "one rater"):
            hits = {"ppi++": 0, "ppi": 0, "human": 0, "judge": 0}
            width: dict[str, list[float]] = {"ppi++": [], "human": []}
            narrower, bias = 0, []
            for d in range(datasets):
                world = world_make(kind, 10_000 + d)
                ids = world.item_ids
                # Soft prediction from the judge's full distribution: E[code(X)].
                predictions = world.judge_dist @ code(world.points)
                labels = code(world.truth) if labeller.startswith("expert") else code(world.census)
                target = labels.mean()
                audit = audit_sample(ids, size=ids.size // 10, seed=d) - 1
                coded = code(world.points)  # as the app asks: a label's step and range
                result = mean_estimates(item_ids=ids, predictions=predictions, audit_ids=ids[audit],
                                        audit_labels=labels[audit], resolution=1.0,
                                        bounds=(coded.min(), coded.max()))  # fmt: skip
                for e in (result.ppi_plus, result.ppi, result.human, result.judge):
                    hits[e.method] += e.ci[0] <= target <= e.ci[1]
                width["ppi++"].append(result.ppi_plus.width)
                width["human"].append(result.human.width)
                narrower += result.ppi_plus.width < result.human.width
                bias.append(target - code(world.truth).mean())
            cover = {k: v / datasets for k, v in hits.items()}
            ratio = np.mean(width["ppi++"]) / np.mean(width["human"])
            cells = (f"{name} / {labeller}", *(f"{cover[m]:.1%}" for m in ("ppi++", "ppi", "human", "judge")),
                     f"{np.mean(width['ppi++']):.4f}", f"{np.mean(width['human']):.4f}", f"{narrower / datasets:.1%}",
                     f"{np.mean(bias):+.4f}")  # fmt: skip
            print(_line(list(zip(cells, widths, strict=True))))
            ok = cover["ppi++"] >= COVERAGE and cover["ppi"] >= COVERAGE and narrower == datasets
            verdicts.append(
                f"{'MET    ' if ok else 'NOT MET'} {name}, audit by {labeller}: PPI++ covers {cover['ppi++']:.1%}, "
                f"PPI {cover['ppi']:.1%} (target >= {COVERAGE:.0%}); PPI++ narrower than human-only in "
                f"{narrower} of {datasets}, mean width {ratio:.2f} x human-only"
            )
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="projects per scenario in part 1 (default 5)")
    parser.add_argument("--datasets", type=int, default=500, help="datasets per row in part 2 (default 500)")
    args = parser.parse_args()
    started = time.perf_counter()
    verdicts = part_one(args.seeds) + part_two(args.datasets)
    print("\n== targets ==")
    print("\n".join(verdicts))
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout
    print(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {cpu.strip() or platform.processor()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; Python {platform.python_version()}, numpy {np.__version__}; "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
