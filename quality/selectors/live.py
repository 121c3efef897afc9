"""Live agreement: alpha's point estimate per criterion, read from the tallies (two queries).

quality/services/tallies.py keeps the tallies current in the transaction of every rating, so
what this returns is exact for the ratings committed when it runs, however many there are.
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from django.db.models import Sum

from agreement import AlphaResult
from agreement.live import CellArrays, cells_alpha
from annotation.models import Project
from quality.models import AgreementCell, AgreementTally
from rubrics.scales import AGREEMENT_LEVEL


@dataclass(frozen=True)
class LiveAgreement:
    """Per criterion key the humans' alpha, and per judge (rater id) the alpha of the humans and
    that judge together; ``writes``: ratings written or changed so far (a counter: a stored
    report's own count tells by how many ratings it lags)."""

    alphas: dict[str, AlphaResult]
    judges: dict[str, dict[int, AlphaResult]]
    writes: int
    ratings: int


def live_agreement(*, project: Project) -> LiveAgreement | None:
    """The live figures of the project's rubric version; None when it has no tally (no criterion
    with an agreement level, or nothing rated since the tallies began). Two queries.

    Each tally is split in shards (AgreementTally.shard) that add up. A judge's subset exists only
    in the shards where it has written: elsewhere it equals the humans' shard, so the judge's
    cells are the humans' plus, in its own shards, its cells minus the humans'."""
    tallies = list(
        AgreementTally.objects.filter(project=project, rubric_version_id=project.rubric_version_id).values_list(
            "pk", "criterion__key", "criterion__scale", "subset", "shard", "ratings", "writes"
        )
    )
    if not tallies:
        return None
    rows = defaultdict(list)
    for tally_id, m, c, k, count in AgreementCell.objects.filter(tally_id__in=[t[0] for t in tallies]).values_list(
        "tally_id", "m", "c", "k", "count"
    ):
        rows[tally_id].append((m, c, k, count))
    humans: dict[str, dict[int, tuple[int, int, int]]] = defaultdict(dict)  # key -> shard -> (tally, ratings, writes)
    judged: dict[str, dict[int, dict[int, tuple[int, int]]]] = defaultdict(lambda: defaultdict(dict))
    scales = {}
    for tally_id, key, scale, subset, shard, ratings, writes in tallies:
        scales[key] = scale
        if subset == AgreementTally.HUMANS:
            humans[key][shard] = (tally_id, ratings, writes)
        else:
            judged[key][subset][shard] = (tally_id, ratings)
    alphas: dict[str, AlphaResult] = {}
    judges: dict[str, dict[int, AlphaResult]] = defaultdict(dict)
    for key, shards in humans.items():
        level = AGREEMENT_LEVEL.get(scales[key].get("kind", ""))
        if level is None:
            continue
        base = [(rows[tally_id], 1) for tally_id, _, _ in shards.values()]
        alphas[key] = cells_alpha(_cells(base), level=level, ratings=sum(n for _, n, _ in shards.values()))
        for judge, own in judged[key].items():
            parts, ratings = list(base), sum(n for _, n, _ in shards.values())
            for shard, (tally_id, n) in own.items():
                human_id, human_n, _ = shards[shard]
                parts += [(rows[tally_id], 1), (rows[human_id], -1)]
                ratings += n - human_n
            judges[key][judge] = cells_alpha(_cells(parts), level=level, ratings=ratings)
    per_key = [
        (sum(w for _, _, w in shards.values()), sum(n for _, n, _ in shards.values())) for shards in humans.values()
    ]
    return LiveAgreement(
        alphas=alphas,
        judges=dict(judges),
        writes=max((w for w, _ in per_key), default=0),
        ratings=max((n for _, n in per_key), default=0),
    )


def _cells(parts: list[tuple[list[tuple], int]]) -> CellArrays:
    """The sum of several shards' cells (each part's rows times its sign), one row per cell."""
    signed = [(m, c, k, sign * n) for rows, sign in parts for m, c, k, n in rows]
    table = np.asarray(signed, dtype=np.float64).reshape(-1, 4)
    keys, at = np.unique(table[:, :3], axis=0, return_inverse=True)
    counts = np.zeros(len(keys), dtype=np.int64)
    np.add.at(counts, at.reshape(-1), np.asarray([row[3] for row in signed], dtype=np.int64))
    return CellArrays(keys[:, 0].astype(np.int64), keys[:, 1], keys[:, 2], counts)


def tally_writes(*, project: Project) -> tuple[int, int] | None:
    """``(writes, ratings)``: ratings written or changed in the project under its rubric version
    since its tallies began, and the human ratings counted (None without tallies). One indexed
    read, where counting the ratings costs a scan."""
    per_criterion = (
        AgreementTally.objects.filter(
            project=project, rubric_version_id=project.rubric_version_id, subset=AgreementTally.HUMANS
        )
        .order_by()
        .values("criterion_id")
        .annotate(w=Sum("writes"), n=Sum("ratings"))
        .order_by("-w", "-n")
        .values_list("w", "n")
    )
    return per_criterion.first()


def tally_counts(*, project: Project) -> dict[str, tuple[int, int]]:
    """Per criterion key: the humans' ``(ratings, writes)`` in the live tallies, their shards added
    up (one query). Read the tallies' counters through this, never one AgreementTally row."""
    rows = (
        AgreementTally.objects.filter(
            project=project, rubric_version_id=project.rubric_version_id, subset=AgreementTally.HUMANS
        )
        .order_by()
        .values("criterion__key")
        .annotate(n=Sum("ratings"), w=Sum("writes"))
        .values_list("criterion__key", "n", "w")
    )
    return {key: (int(n), int(w)) for key, n, w in rows}
