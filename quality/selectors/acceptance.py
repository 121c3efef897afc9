"""Task acceptance: which decided tasks go in the *accepted* bucket and which in *rejected*.

Acceptance is read off what the approval gate already decided, never decided a second time:
an item the gate approved (agreeing humans, a reviewer's gold or a trusted judge) carries
consensus values, and a task is *accepted* when every gate criterion (every binary criterion of
its rubric version: achievable, non-trivial, functionally correct, reliable in the built-in
template) is true there. Approved with any gate false, or rejected outright by a manager, is
*rejected*; anything still open or waiting for a reviewer is *undecided*. Rubrics without a
gate criterion (rubrics/gates.py) have no buckets.

The same rule exists three times, each tested against the others: in Python for one item
(``acceptance_of``), as a queryset filter (``bucket_filter``) and as SQL for the PostgreSQL
export (``acceptance_sql``).
"""

from collections.abc import Sequence
from functools import reduce
from operator import and_
from typing import Any

from django.db.models import Q

from annotation.models import ItemStatus
from rubrics.gates import Gates

ACCEPTED, REJECTED, UNDECIDED = "accepted", "rejected", "undecided"
BUCKETS = (ACCEPTED, REJECTED, UNDECIDED)


def acceptance_of(*, gates: Gates, status: str, consensus: dict | None) -> dict[str, Any] | None:
    """``{bucket, failing, reason}`` for one item, or None when the rubric has no gate criteria.

    ``failing``: the gate criteria that did not pass (for a manager's outright rejection, those
    the consensus, if any, has false). ``reason``: the consensus rejection reason, if any.
    """
    if not gates:
        return None
    consensus = consensus or {}
    if status == ItemStatus.APPROVED:
        failing = [k for k in gates.keys if consensus.get(k) is not True]
        bucket = REJECTED if failing else ACCEPTED
    elif status == ItemStatus.REJECTED:
        failing = [k for k in gates.keys if consensus.get(k) is False]
        bucket = REJECTED
    else:
        return {"bucket": UNDECIDED, "failing": [], "reason": None}
    reason = consensus.get(gates.reason_key) if bucket == REJECTED and gates.reason_key else None
    return {"bucket": bucket, "failing": failing, "reason": reason}


def _all_pass(keys: Sequence[str]) -> Q:
    # The explicit __exact keeps a key named like a lookup ("in", "exact", "contains") a key.
    return reduce(and_, (Q(**{f"consensus__{key}__exact": True}) for key in keys), Q(status=ItemStatus.APPROVED))


def bucket_filter(*, gates: Gates, bucket: str) -> Q:
    """A filter on Item for one bucket. With no gate criteria nothing is accepted or rejected."""
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}")
    decided = Q(status__in=(ItemStatus.APPROVED, ItemStatus.REJECTED))
    if bucket == UNDECIDED:
        return ~decided
    if not gates:
        return Q(pk__in=[])
    accepted = _all_pass(gates.keys)
    return accepted if bucket == ACCEPTED else decided & ~accepted


def acceptance_sql(*, gates: Gates, alias: str = "i") -> tuple[str, dict]:
    """A PostgreSQL expression giving the item's acceptance as JSON text, and its parameters.

    Criterion keys are passed as parameters (``%(gate_keys)s``, ``%(reason_key)s``), never
    spliced into the SQL.
    """
    if not gates:
        return "'null'", {}
    status, consensus = f"{alias}.status", f"{alias}.consensus"
    all_pass = (
        "NOT EXISTS (SELECT 1 FROM unnest(%(gate_keys)s::text[]) AS g(k) "
        f"WHERE {consensus} -> g.k IS DISTINCT FROM 'true'::jsonb)"
    )
    bucket = (
        f"CASE WHEN {status} = 'approved' AND {all_pass} THEN 'accepted' "
        f"WHEN {status} IN ('approved', 'rejected') THEN 'rejected' ELSE 'undecided' END"
    )
    failing = (
        "(SELECT COALESCE(json_agg(g.k ORDER BY g.n), '[]'::json) FROM unnest(%(gate_keys)s::text[]) "
        f"WITH ORDINALITY AS g(k, n) "
        f"WHERE ({status} = 'approved' AND {consensus} -> g.k IS DISTINCT FROM 'true'::jsonb) "
        f"OR ({status} = 'rejected' AND {consensus} -> g.k = 'false'::jsonb))"
    )
    reason = (
        f"CASE WHEN ({bucket}) = 'rejected' THEN COALESCE({consensus} -> %(reason_key)s::text, 'null'::jsonb) "
        "ELSE 'null'::jsonb END"
        if gates.reason_key
        else "'null'::jsonb"
    )
    sql = (
        f"CASE WHEN {status} NOT IN ('approved', 'rejected') "
        """THEN '{"bucket":"undecided","failing":[],"reason":null}' """
        f"""ELSE '{{"bucket":' || to_json({bucket})::text || ',"failing":' || {failing}::text """
        f"""|| ',"reason":' || ({reason})::text || '}}' END"""
    )
    return sql, {"gate_keys": list(gates.keys), "reason_key": gates.reason_key}
