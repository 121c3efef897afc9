"""Writing what a chunk's calls return: samples, and for each finished item its verdict and rating.

Every write is keyed (JudgeSample per item/judge version/rubric version/sample index, JudgeVerdict
per item/judge version/rubric version, Rating per item/rater/rubric version) and conflicts are
ignored (samples, ratings) or updated (verdicts), so writing the same results twice, or two
workers writing them at once after a visibility timeout, never duplicates anything. An item's
verdict is written in the same transaction as its rating and its last samples.

The ratings go through annotation's one writer of ratings (``ratings_write``), like any rater's.
On PostgreSQL the samples and verdicts then go out as one statement with the rows as JSON
documents (``json_to_recordset``), bound server-side: the ORM's ``bulk_create`` builds a model
instance per row and, with Django's client-side parameter binding, quotes every value in Python,
which was about a third of a verdict's CPU in the judge-run benchmark. Other databases (SQLite in
development) use the ORM. ``FAST_PATH_FIELDS`` lists the columns the statement writes; a test
checks it against the models.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from annotation.models import Rating, RatingSource
from annotation.services.ratings import NewRating, ratings_write
from config.untrusted import text_storable
from judges.aggregation import samples_aggregate
from judges.executor import Result
from judges.models import JudgeRun, JudgeSample, JudgeVerdict, Outcome
from judges.uncertainty import verdict_distribution
from rubrics.scales import CriterionSpec, values_clean


@dataclass
class _Verdict:
    item_id: int
    outcome: str
    reason: str = ""
    spread: dict | None = None
    # The judge's rating (values, rationales), when most samples were valid and aggregate cleanly.
    rating: tuple[dict, dict] | None = None
    uncertainty: tuple[dict, float | None] = ({}, None)  # distribution, confidence (judges/uncertainty.py)


class ResultWriter:
    """Collects sample results per item; ``flush`` writes the new samples and finished items."""

    def __init__(
        self, *, run: JudgeRun, criteria: list[CriterionSpec], samples: int, have: dict[int, dict[int, Result]]
    ):
        self.run = run
        self.version = run.judge_version
        self.criteria = criteria
        self.samples = samples
        self.have = have  # item_id -> sample_index -> Result (stored before, or new)
        self.new: list[Result] = []

    def add(self, results: list[Result]) -> None:
        for result in results:
            # A provider's text is untrusted: what cannot be stored is replaced (config/untrusted.py);
            # values and rationales were refused by values_clean already, as a human's would be.
            result.raw_output, result.reason = text_storable(result.raw_output), text_storable(result.reason)
            self.have.setdefault(result.item_id, {})[result.sample_index] = result
            self.new.append(result)

    def flush(self) -> int:
        """Write in one transaction; returns the number of items finished (verdict written)."""
        complete = [i for i, by_index in self.have.items() if len(by_index) >= self.samples]
        if not self.new and not complete:
            return 0
        new, self.new = self.new, []
        verdicts = [self._verdict(item_id) for item_id in complete]
        with transaction.atomic():
            # A judge's verdict is just another rating, written by the one writer of ratings.
            ratings_write(
                rubric_version_id=self.run.rubric_version_id,
                ratings=[
                    NewRating(
                        v.item_id,
                        self.version.rater_id,
                        *v.rating,
                        distribution=v.uncertainty[0],
                        confidence=v.uncertainty[1],
                    )
                    for v in verdicts
                    if v.rating
                ],
                source=RatingSource.JUDGE,
            )
            if connection.vendor == "postgresql":
                self._write_postgresql(new, verdicts)
            else:
                self._write_orm(new, verdicts)
        for item_id in complete:
            del self.have[item_id]
        return len(complete)

    def _verdict(self, item_id: int) -> _Verdict:
        ordered = [self.have[item_id][i] for i in sorted(self.have[item_id])]
        ok = [r for r in ordered if r.outcome == Outcome.OK]
        counted = {"samples": {"ok": len(ok), "total": len(ordered)}}
        if len(ok) * 2 > len(ordered):
            values, rationales, spread = samples_aggregate(
                criteria=self.criteria, samples=[(r.values, r.rationales) for r in ok]
            )
            try:
                values, rationales = values_clean(criteria=self.criteria, values=values, rationales=rationales)
            except ValidationError as exc:  # e.g. a required rationale missing from every agreeing sample
                return _Verdict(item_id, Outcome.FAILED, reason=f"aggregate invalid: {exc.messages}", spread={})
            uncertainty = verdict_distribution(
                criteria=self.criteria,
                values=values,
                samples=[r.values for r in ok],
                logprobs=[getattr(r, "logprobs", None) for r in ok],  # when the provider returned them
            )
            return _Verdict(
                item_id, Outcome.OK, spread={**spread, **counted}, rating=(values, rationales), uncertainty=uncertainty
            )
        bad = [r for r in ordered if r.outcome != Outcome.OK]
        refused = [r for r in bad if r.outcome == Outcome.NO_VERDICT]
        outcome = Outcome.NO_VERDICT if len(refused) * 2 >= len(bad) and refused else Outcome.FAILED
        return _Verdict(item_id, outcome, reason=(refused or bad)[0].reason[:2000], spread=counted)

    def _write_orm(self, new: list[Result], verdicts: list[_Verdict]) -> None:
        run, rubric_version_id, rater_id = self.run, self.run.rubric_version_id, self.version.rater_id
        JudgeSample.objects.bulk_create(
            [
                JudgeSample(
                    item_id=r.item_id,
                    judge_version=self.version,
                    rubric_version_id=rubric_version_id,
                    sample_index=r.sample_index,
                    run=run,
                    outcome=r.outcome,
                    values=r.values,
                    rationales=r.rationales,
                    raw_output=r.raw_output,
                    reason=r.reason,
                    logprobs=r.logprobs,
                    attempts=r.attempts,
                    input_tokens=r.input_tokens,
                    output_tokens=r.output_tokens,
                )
                for r in new
            ],
            ignore_conflicts=True,
        )
        if not verdicts:
            return
        rated = [v for v in verdicts if v.rating is not None]
        rating_ids: dict[int, int] = {}
        if rated:
            # The rating of each item, written just now or by an earlier delivery.
            rating_ids = dict(
                Rating.objects.filter(
                    rater_id=rater_id, rubric_version_id=rubric_version_id, item_id__in=[v.item_id for v in rated]
                ).values_list("item_id", "id")
            )
        JudgeVerdict.objects.bulk_create(
            [
                JudgeVerdict(
                    item_id=v.item_id,
                    judge_version=self.version,
                    rubric_version_id=rubric_version_id,
                    run=run,
                    outcome=v.outcome,
                    rating_id=rating_ids.get(v.item_id) if v.rating is not None else None,
                    spread=v.spread,
                    reason=v.reason,
                )
                for v in verdicts
            ],
            update_conflicts=True,
            unique_fields=["item", "judge_version", "rubric_version"],
            update_fields=["run", "outcome", "rating", "spread", "reason", "updated_at"],
        )

    def _write_postgresql(self, new: list[Result], verdicts: list[_Verdict]) -> None:
        # The rows travel as one JSON document per table (encoded in C, one parameter each) and
        # are unpacked by json_to_recordset: cheaper for the worker than arrays, whose text
        # form psycopg builds element by element in Python.
        params = {
            "run": self.run.pk,
            "judge_version": self.version.pk,
            "rubric_version": self.run.rubric_version_id,
            "rater": self.version.rater_id,
            "samples": json.dumps(
                [
                    {
                        "item": r.item_id,
                        "index": r.sample_index,
                        "outcome": r.outcome,
                        "vals": r.values,
                        "rats": r.rationales,
                        "raw": r.raw_output,
                        "reason": r.reason,
                        "lp": r.logprobs,
                        "attempts": r.attempts,
                        "input": r.input_tokens,
                        "output": r.output_tokens,
                    }
                    for r in new
                ]
            ),
            "verdicts": json.dumps(
                [
                    {
                        "item": v.item_id,
                        "outcome": v.outcome,
                        "rated": v.rating is not None,
                        "spread": v.spread or {},
                        "reason": v.reason,
                    }
                    for v in verdicts
                ]
            ),
        }
        connection.ensure_connection()
        # Django's own cursors bind parameters client-side (quoting each value in Python); a plain
        # psycopg cursor on the same connection, inside the same transaction, binds server-side.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_postgresql_statement(), params, prepare=False)


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# The columns the PostgreSQL statement writes, per model (the test that guards it: every concrete
# field but the primary key must be here, so a new field cannot silently get no value). Ratings
# are annotation's (annotation/services/ratings.py writes them, with its own list).
FAST_PATH_FIELDS = {
    JudgeSample: [
        "item", "judge_version", "rubric_version", "sample_index", "run", "outcome", "values", "rationales",
        "raw_output", "reason", "logprobs", "attempts", "input_tokens", "output_tokens", "created_at",
    ],
    JudgeVerdict: [
        "item", "judge_version", "rubric_version", "run", "outcome", "rating", "spread", "reason", "updated_at",
    ],
}  # fmt: skip


@functools.cache
def _postgresql_statement() -> str:
    """The samples and the verdicts pointing at their rating, in one statement.

    The ratings were written by an earlier statement of the same transaction (``ratings_write``):
    in READ COMMITTED each statement reads the rows committed before it starts, so this one also
    sees a rating that another worker running the same chunk committed while the ratings'
    statement waited on it (a conflict there returns no id; a subquery in that same statement
    would not see the row and leave the verdict without its rating).
    """

    def cols(model) -> str:
        return ", ".join(_column(model, name) for name in FAST_PATH_FIELDS[model])

    s, r, v = JudgeSample, Rating, JudgeVerdict
    return f"""
WITH new_samples AS (
    INSERT INTO {_table(s)} ({cols(s)})
    SELECT x.item, %(judge_version)s, %(rubric_version)s, x.index, %(run)s, x.outcome, x.vals, x.rats, x.raw,
           x.reason, x.lp, x.attempts, x.input, x.output, now()
    FROM json_to_recordset(%(samples)s::json) AS x(item bigint, index smallint, outcome text, vals jsonb, rats jsonb,
                                                   raw text, reason text, lp jsonb, attempts smallint,
                                                   input integer, output integer)
    ON CONFLICT DO NOTHING
)
INSERT INTO {_table(v)} ({cols(v)})
SELECT x.item, %(judge_version)s, %(rubric_version)s, %(run)s, x.outcome,
       CASE WHEN x.rated THEN rating.{_column(r, "id")} END, x.spread, x.reason, now()
FROM json_to_recordset(%(verdicts)s::json) AS x(item bigint, outcome text, rated boolean, spread jsonb, reason text)
LEFT JOIN {_table(r)} rating ON rating.{_column(r, "item")} = x.item
    AND rating.{_column(r, "rater")} = %(rater)s AND rating.{_column(r, "rubric_version")} = %(rubric_version)s
ON CONFLICT ({_column(v, "item")}, {_column(v, "judge_version")}, {_column(v, "rubric_version")}) DO UPDATE SET
    {_column(v, "run")} = EXCLUDED.{_column(v, "run")}, {_column(v, "outcome")} = EXCLUDED.{_column(v, "outcome")},
    {_column(v, "rating")} = EXCLUDED.{_column(v, "rating")}, {_column(v, "spread")} = EXCLUDED.{_column(v, "spread")},
    {_column(v, "reason")} = EXCLUDED.{_column(v, "reason")},
    {_column(v, "updated_at")} = EXCLUDED.{_column(v, "updated_at")}
"""
