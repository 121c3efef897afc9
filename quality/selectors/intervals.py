"""The live bootstrap intervals (quality/services/intervals.py keeps them), read."""

import io

import numpy as np

from agreement.live_bootstrap import DrawSums
from annotation.models import Project
from quality.models import AgreementInterval


def criteria_with_levels(project: Project) -> list:
    """The criteria of the project's rubric version that have an agreement level."""
    return [c for c in project.rubric_version.criteria.all() if c.agreement_level is not None]


def sums_load(data: bytes) -> dict[str, DrawSums]:
    """Per criterion key, the per-draw sums stored in an ``AgreementInterval.sums``."""
    if not data:
        return {}
    with np.load(io.BytesIO(bytes(data))) as stored:
        keys = {name.rsplit(".", 1)[0] for name in stored.files if name != "seed"}
        seed = int(stored["seed"][0])
        return {k: DrawSums(values=stored[f"{k}.values"], sums=stored[f"{k}.sums"], seed=seed) for k in keys}


def interval_read(*, project: Project, ci_level: float = 0.95) -> tuple[dict[str, dict], int] | None:
    """The live intervals ``({criterion key: {ci, draws}}, tallies' writes when counted)`` of the
    project's current rubric version, or None when none is kept."""
    row = (
        AgreementInterval.objects.filter(project=project, rubric_version_id=project.rubric_version_id)
        .exclude(seen_until=None)
        .values_list("sums", "writes", "ratings")
        .first()
    )
    if row is None:
        return None
    data, writes, _ = row
    levels = {c.key: c.agreement_level for c in criteria_with_levels(project)}
    out = {}
    for key, kept in sums_load(data).items():
        if key not in levels:
            continue
        ci, used, reason = kept.interval(levels[key], ci_level)
        out[key] = {"ci": list(ci) if ci else None, "ci_draws": used, "ci_reason": reason}
    return out, writes
