"""What annotation announces to the step after it.

Approval (quality/) decides each item from its ratings and gold, and sits above annotation in
the dependency order (rubrics ← annotation ← quality), so annotation cannot call it. Instead, the
services that change what an item is decided on send these signals inside their transaction,
and quality's receivers (quality/receivers.py, connected in quality/apps.py) decide there and
then, in the same transaction, exactly as a direct call would. They are the only signals in
Accord: workflow is never hung on model saves.
"""

from django.dispatch import Signal

ratings_changed = Signal()
"""Sent with ``project`` and ``item_ids`` after ratings (or a reviewer's gold) of those items were
written or changed: human submissions, corrections (``rating_change``), rating imports and
reviews. Judge verdicts do not send it: a judge's
ratings count only once it is trusted, and measuring trust after a run re-decides the project."""

project_rules_changed = Signal()
"""Sent with ``project`` after its rubric version or its overlap changed: every item's counts and
decision may have changed."""

ratings_written = Signal()
"""Sent by the two writers of the Rating table, inside their transaction, with
``rubric_version_id`` and ``changes``: ``(item_id, rater_id, values before)`` per rating
inserted (values before: None) or changed (``rating_change``), people's and judges' alike.
Quality keeps its live agreement tallies with it (quality/services/tallies.py)."""
