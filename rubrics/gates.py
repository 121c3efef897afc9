"""Acceptance gates: the criteria of a rubric version that decide whether a task is accepted.

A gate is a binary criterion marked ``gate`` (achievable, non-trivial, functionally correct and
reliable in the built-in task-acceptance template; any yes/no criterion a rubric's author marks).
An ordinary binary criterion ("is it concise?") is not a gate: a project whose rubric has no gate
has no acceptance buckets and its exports carry no ``acceptance`` field. A categorical
``rejection_reason`` criterion, if there is one, says why a task was rejected. Which bucket a
decided item falls in is quality's business (quality/selectors/acceptance.py); which criteria
are gates is the rubric's.
"""

from dataclasses import dataclass

from rubrics.models import RubricVersion
from rubrics.scales import ScaleKind

# The categorical criterion whose consensus says why a task was rejected (built-in template).
REASON_KEY = "rejection_reason"


@dataclass(frozen=True)
class Gates:
    """A rubric version's gate criteria (in rubric order) and its rejection-reason criterion."""

    keys: tuple[str, ...]
    reason_key: str | None

    def __bool__(self) -> bool:
        return bool(self.keys)


def gates_of(version: RubricVersion) -> Gates:
    criteria = list(version.criteria.all())
    keys = tuple(c.key for c in criteria if c.gate and c.kind == ScaleKind.BINARY)
    reason = next((c.key for c in criteria if c.key == REASON_KEY and c.kind == ScaleKind.CATEGORICAL), None)
    return Gates(keys=keys, reason_key=reason)
