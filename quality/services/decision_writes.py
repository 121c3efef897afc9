"""How the approval service's decisions are written: in bulk, one statement per chunk of items.

The rule (quality/services/approval.py) decides each item through a ``decide`` callable. Saving
each decided item with its own UPDATE made a rating import of 5,000 items spend most of its time
in round trips (docs/benchmarks.md, *Item import*); :class:`DecisionBatch` applies the same
outcome to the item in memory and writes every changed item of a chunk together, while the
chunk's row locks are still held: on PostgreSQL one ``UPDATE … FROM (VALUES …)`` per chunk
(Django's ``bulk_update`` builds a ``CASE`` per column that the server scans once per row, which
made it slower than the single UPDATEs), elsewhere one save per item as before.
"""

from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from annotation.models import Item, ItemStatus

DECISION_FIELDS = ["status", "approved_by", "consensus", "disagreement", "decision_reason", "decided_at", "updated_at"]

_DECIDED_AT = (ItemStatus.APPROVED, ItemStatus.REJECTED, ItemStatus.NEEDS_REVIEW)


def decision_apply(
    item: Item,
    *,
    status: str,
    approved_by: str = "",
    consensus: dict | None = None,
    disagreement: dict | None = None,
    reason: str = "",
    overlap_target: int | None = None,
) -> tuple[bool, bool]:
    """Set a decision on ``item`` in memory: (whether the decision changed, whether its overlap
    target changed). Nothing is written."""
    overlap_moved = overlap_target is not None and item.overlap_target != overlap_target
    if overlap_moved:
        item.overlap_target = overlap_target
    consensus = consensus or {}
    disagreement = disagreement or {}
    unchanged = (
        item.status == status
        and item.approved_by == approved_by
        and item.consensus == consensus
        and item.disagreement == disagreement
        and item.decision_reason == reason
    )
    if unchanged:
        return False, overlap_moved
    item.status, item.approved_by, item.consensus = status, approved_by, consensus
    item.disagreement, item.decision_reason = disagreement, reason
    item.decided_at = timezone.now() if status in _DECIDED_AT else None
    item.updated_at = timezone.now()
    return True, overlap_moved


@dataclass
class DecisionBatch:
    """A ``decide`` for the approval rule that collects; :meth:`write` stores what changed."""

    decided: list[Item] = field(default_factory=list)
    overlap_moved: list[Item] = field(default_factory=list)

    def __call__(self, item: Item, **decision) -> bool:
        changed, overlap_moved = decision_apply(item, **decision)
        if overlap_moved:
            self.overlap_moved.append(item)
        if changed:
            self.decided.append(item)
        return changed

    def write(self) -> None:
        """Write the collected decisions (call while the items are locked), then forget them."""
        if connection.vendor == "postgresql":
            items_values_update(items=self.overlap_moved, fields=["overlap_target"])
            items_values_update(items=self.decided, fields=DECISION_FIELDS)
        else:
            for item in self.overlap_moved:
                Item.objects.filter(pk=item.pk).update(overlap_target=item.overlap_target)
            for item in self.decided:
                item.save(update_fields=DECISION_FIELDS)
        self.decided, self.overlap_moved = [], []


_PER_STATEMENT = 1_000


def items_values_update(*, items: list[Item], fields: list[str]) -> None:
    """PostgreSQL: write ``fields`` of ``items`` (as they are in memory) in one
    ``UPDATE … FROM (VALUES …)`` per thousand items. Values go through each field's own
    preparation (JSON, time zones), so what is stored equals what ``save()`` would store."""
    model_fields = [Item._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    casts = ", ".join(["%s::bigint"] + [f"%s::{f.cast_db_type(connection)}" for f in model_fields])
    names = ", ".join(["id"] + [f"v{n}" for n in range(len(model_fields))])
    assignments = ", ".join(f"{quote(f.column)} = v.v{n}" for n, f in enumerate(model_fields))
    table = quote(Item._meta.db_table)
    for start in range(0, len(items), _PER_STATEMENT):
        chunk = items[start : start + _PER_STATEMENT]
        params: list = []
        for item in chunk:
            params.append(item.pk)
            params.extend(f.get_db_prep_save(getattr(item, f.attname), connection) for f in model_fields)
        rows = ", ".join([f"({casts})"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS i SET {assignments} FROM (VALUES {rows}) AS v({names}) WHERE i.id = v.id", params
            )
