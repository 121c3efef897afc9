"""Live agreement: alpha's point estimate per criterion, read from the tallies (two queries).

quality/services/tallies.py keeps the tallies current in the transaction of every rating, so
what this returns is exact for the ratings committed when it runs, however many there are.
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

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
    with an agreement level, or nothing rated since the tallies began). Two queries."""
    tallies = list(
        AgreementTally.objects.filter(project=project, rubric_version_id=project.rubric_version_id).values_list(
            "pk", "criterion__key", "criterion__scale", "subset", "ratings", "writes"
        )
    )
    if not tallies:
        return None
    rows = defaultdict(list)
    for tally_id, m, c, k, count in AgreementCell.objects.filter(tally_id__in=[t[0] for t in tallies]).values_list(
        "tally_id", "m", "c", "k", "count"
    ):
        rows[tally_id].append((m, c, k, count))
    alphas: dict[str, AlphaResult] = {}
    judges: dict[str, dict[int, AlphaResult]] = defaultdict(dict)
    for tally_id, key, scale, subset, ratings, _ in tallies:
        level = AGREEMENT_LEVEL.get(scale.get("kind", ""))
        if level is None:
            continue
        table = np.asarray(rows[tally_id], dtype=np.float64).reshape(-1, 4)
        cells = CellArrays(table[:, 0].astype(np.int64), table[:, 1], table[:, 2], table[:, 3].astype(np.int64))
        result = cells_alpha(cells, level=level, ratings=ratings)
        if subset == AgreementTally.HUMANS:
            alphas[key] = result
        else:
            judges[key][subset] = result
    humans = [t for t in tallies if t[3] == AgreementTally.HUMANS]
    return LiveAgreement(
        alphas=alphas,
        judges=dict(judges),
        writes=max((t[5] for t in humans), default=0),
        ratings=max((t[4] for t in humans), default=0),
    )


def tally_writes(*, project: Project) -> tuple[int, int] | None:
    """``(writes, ratings)``: ratings written or changed in the project under its rubric version
    since its tallies began, and the human ratings counted (None without tallies). One indexed
    read, where counting the ratings costs a scan."""
    return (
        AgreementTally.objects.filter(
            project=project, rubric_version_id=project.rubric_version_id, subset=AgreementTally.HUMANS
        )
        .order_by("-writes", "-ratings")
        .values_list("writes", "ratings")
        .first()
    )
