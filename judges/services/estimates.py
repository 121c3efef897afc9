"""What a run would cost, before it starts.

The items are those ``judge_run_start`` would take (``run_item_ids``, the same rule); the prompts
of a random sample of them are built exactly as a chunk builds them (system prompt, schema,
few-shot examples, item), and measured with the same tokenizer-free estimate the rate limiter
uses (judges/costs.py). Output tokens: this judge version's past average per call when it has
answered before ("past_average"), else its max_output_tokens ("max_output_tokens": then the
figure is an upper bound, not a guess). Repair turns after an invalid answer are not counted.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, Min

from annotation.models import Item, Project
from judges.costs import cost_micros, prompt_tokens_estimate, schema_tokens_estimate, usd
from judges.fewshot import fewshot_pool
from judges.models import Judge, JudgeSample, JudgeVersion
from judges.services.runs import run_items
from rubrics.scales import CriterionSpec

SAMPLE_ITEMS = 50
# Four characters per token is a rule of thumb; real tokenizers land within about this factor of
# it on English and JSON (more tokens for other scripts: the range is not a bound).
TOKENIZER_LOW, TOKENIZER_HIGH = Decimal("0.8"), Decimal("1.25")


@dataclass(frozen=True)
class RunEstimate:
    items: int
    calls: int  # items x samples per item
    sampled_items: int  # whose prompts were built and measured
    input_tokens: int
    output_tokens: int
    output_basis: str  # "past_average" or "max_output_tokens"
    cost_micros: int
    low_micros: int
    high_micros: int
    price_factor: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "calls": self.calls,
            "sampled_items": self.sampled_items,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "output_basis": self.output_basis,
            "cost_usd": usd(self.cost_micros),
            "low_usd": usd(self.low_micros),
            "high_usd": usd(self.high_micros),
            "price_factor": self.price_factor,
        }


def judge_run_estimate(
    *,
    project: Project,
    judge: Judge,
    items: Any,
    price_factor: Decimal = Decimal(1),
    sample_items: int = SAMPLE_ITEMS,
    rng: random.Random | None = None,
    version: JudgeVersion | None = None,
) -> RunEstimate:
    """Estimate a run of the judge's current version over ``items`` ("all", "unjudged" or ids, as
    for a run), with a range: ``low``-``high`` covers the tokenizer's spread around the estimate,
    the sampling error of the prompt sizes (two standard errors) and, for output, everything from
    the fewest tokens this version answered with to max_output_tokens; the high end also counts
    the schema as input (some providers do, some do not). ``price_factor`` scales the
    judge's prices (0.5 for a provider's batch mode). ``version``: the judge's current version when
    the caller has read it already. Stores nothing."""
    if judge.project_id != project.pk:
        raise ValidationError({"judge": ["no such judge in this project."]})
    version = version or judge.current_version()
    _, queryset = run_items(project=project, version=version, items=items)
    n = queryset.count()
    if rng is None:  # the database draws the sample: no list of a million ids in memory
        chosen = list(queryset.order_by("?").values_list("id", flat=True)[:sample_items])
    else:  # reproducible, for tests
        chosen = rng.sample(sorted(queryset.values_list("id", flat=True)), min(sample_items, n))
    prompts = list(_prompts(project=project, version=version, item_ids=chosen))
    sizes = [prompt_tokens_estimate(p) for p in prompts]
    schema = schema_tokens_estimate(prompts[0]) if prompts else 0
    k = len(sizes)
    mean = statistics.fmean(sizes) if sizes else 0.0
    spread = 0.0
    if 1 < k < n:  # two standard errors of the mean, finite population corrected
        spread = 2 * statistics.stdev(sizes) / math.sqrt(k) * math.sqrt((n - k) / (n - 1))
    calls = n * version.samples
    past = JudgeSample.objects.filter(judge_version=version, output_tokens__gt=0).aggregate(
        avg=Avg("output_tokens"), low=Min("output_tokens"), count=Count("id")
    )
    cap = version.max_output_tokens
    if past["count"]:
        basis, out, out_low = "past_average", min(cap, math.ceil(past["avg"])), past["low"]
    else:
        basis, out, out_low = "max_output_tokens", cap, 0
    prices = {
        "price_input_per_mtok": judge.price_input_per_mtok,
        "price_output_per_mtok": judge.price_output_per_mtok,
        "price_factor": price_factor,
    }
    input_tokens = math.ceil(mean * calls)
    return RunEstimate(
        items=n,
        calls=calls,
        sampled_items=k,
        input_tokens=input_tokens,
        output_tokens=out * calls,
        output_basis=basis,
        cost_micros=cost_micros(input_tokens=input_tokens, output_tokens=out * calls, **prices),
        low_micros=cost_micros(
            input_tokens=int(Decimal(max(0.0, mean - spread) * calls) * TOKENIZER_LOW),
            output_tokens=out_low * calls,
            **prices,
        ),
        high_micros=cost_micros(
            input_tokens=math.ceil(Decimal((mean + spread + schema) * calls) * TOKENIZER_HIGH),
            output_tokens=cap * calls,
            **prices,
        ),
        price_factor=price_factor,
    )


def _prompts(*, project: Project, version, item_ids: list[int]):
    """The prompts a chunk would send for these items (one per item: samples differ only by the
    tags' random id)."""
    # Imported here: the prompt builder loads the provider SDKs (about 90 MB), which the web app,
    # where estimates are asked for, does not otherwise need (tests/test_platform.py).
    from judges.services.chunks import prompter

    rubric_version = project.rubric_version
    criteria_rows = list(rubric_version.criteria.all())
    prompt = prompter(
        rubric_version=rubric_version, guidelines=project.guidelines, version=version,
        pool=fewshot_pool(project=project, k=version.few_shot), criteria_rows=criteria_rows,
        criteria=[CriterionSpec(c.key, c.scale, c.rationale_required, c.required) for c in criteria_rows],
    )  # fmt: skip
    data = dict(Item.objects.filter(id__in=item_ids).values_list("id", "data"))
    for item_id in item_ids:
        yield prompt(item_id, data[item_id])
