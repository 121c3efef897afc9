"""Log-probabilities of the scale points at each criterion's value, from an OpenAI-shaped
``logprobs.content`` list (OpenAI, vLLM, llama.cpp and llama-cpp-python return it when asked).

The answer is ``{"<key>": {"rationale": "...", "value": 4}, ...}``: for each criterion with
discrete points (binary, ordinal, categorical) we find the token where its value starts and keep,
from that token's ``top_logprobs``, the alternatives that spell a whole scale point. The result,
``{criterion_key: {"<scale point>": logprob}}``, is stored on JudgeSample.logprobs as is; triage
reads exactly that shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from rubrics.scales import CriterionSpec, ScaleKind


def _points(criterion: CriterionSpec) -> list[str]:
    scale = criterion.scale
    kind = scale["kind"]
    if kind == ScaleKind.BINARY:
        return ["true", "false"]
    if kind == ScaleKind.ORDINAL:
        return [str(p) for p in range(scale["min"], scale["max"] + 1)]
    if kind == ScaleKind.CATEGORICAL:
        return [str(c) for c in scale["choices"]]
    return []


def _value_offset(text: str, key: str) -> int | None:
    """Where the value of ``key`` starts in the answer text (after any opening quote)."""
    entry = re.search(r'"' + re.escape(key) + r'"\s*:\s*\{', text)
    if entry is None:
        return None
    value = re.compile(r'"value"\s*:\s*"?').search(text, entry.end())
    return value.end() if value else None


def score_logprobs(*, text: str, tokens: Sequence[dict] | None, criteria: Sequence[CriterionSpec]) -> dict | None:
    """``{criterion_key: {"<point>": logprob}}`` for the criteria whose value token was found with
    at least one scale point among its alternatives; None when there is nothing to store."""
    if not tokens or not isinstance(tokens, list | tuple):
        return None
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(str(token.get("token", ""))) if isinstance(token, dict) else 0
    joined = "".join(str(t.get("token", "")) for t in tokens if isinstance(t, dict))
    if joined != text:
        text = joined  # tool-call arguments or a fenced answer: read what the tokens spell
    out: dict[str, dict[str, float]] = {}
    for criterion in criteria:
        points = _points(criterion)
        offset = _value_offset(text, criterion.key) if points else None
        if offset is None:
            continue
        index = next((i for i in range(len(starts) - 1, -1, -1) if starts[i] <= offset), None)
        if index is None:
            continue
        # The token may carry the quote or a space before the value: skip tokens of that only.
        while index < len(tokens) and str(tokens[index].get("token", "")).strip(' "\n:') == "":
            index += 1
        if index >= len(tokens):
            continue
        token = tokens[index]
        chosen = {"token": token.get("token"), "logprob": token.get("logprob")}
        alternatives = [*(token.get("top_logprobs") or []), chosen]
        found: dict[str, float] = {}
        for alternative in alternatives:
            if not isinstance(alternative, dict):
                continue
            spelled = str(alternative.get("token", "")).strip(' "')
            logprob = alternative.get("logprob")
            if spelled in points and isinstance(logprob, int | float) and spelled not in found:
                found[spelled] = float(logprob)
        total = sum(math.exp(lp) for lp in found.values())
        if total > 1:  # the same point under two spellings (" 3" and "3"): keep a distribution
            found = {point: lp - math.log(total) for point, lp in found.items()}
        if found:
            out[criterion.key] = found
    return out or None
