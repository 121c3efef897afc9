"""What a judge call costs: token estimates from a prompt, and tokens times prices.

Money is counted in integer micro-dollars (``micros``) wherever it is added up or compared to a
cap, so that the database can do ``spent + reserved + x <= cap`` exactly, in one statement,
without floating point or per-database decimal arithmetic.

Two prompt measures, both tokenizer-free:

- ``prompt_tokens_estimate``: about four characters per token, the usual rule of thumb for
  English and JSON with byte-pair tokenizers. Used for the cost estimate and the
  tokens-per-minute limiter; ``schema_tokens_estimate`` for the schema, when it is counted.
- ``prompt_tokens_bound``: an upper bound. Byte-level BPE tokenizers (OpenAI, Anthropic, Llama,
  Qwen...) never make a token of less than one byte, so the UTF-8 size of everything sent (system,
  user, the schema, repair turns) plus a fixed allowance for the chat template bounds the input
  tokens. Used to reserve a call's worst case against a budget.
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the provider SDKs (about 90 MB) load only in a worker that runs a judge
    from judges.providers.base import Prompt

MICROS_PER_USD = 1_000_000
CHARS_PER_TOKEN = 4
# Role markers, message separators, the tool / response-format wrapper: a few tokens per message
# in every chat template we know; 64 covers the system, user and repair turns with room to spare.
TEMPLATE_TOKENS = 64


def _texts(prompt: Prompt) -> list[str]:
    return [prompt.system, prompt.user, *(text for turn in prompt.repair for text in turn)]


def prompt_tokens_estimate(prompt: Prompt) -> int:
    """About how many input tokens the provider will count for the messages of ``prompt``."""
    return math.ceil(sum(len(t) for t in _texts(prompt)) / CHARS_PER_TOKEN)


def schema_tokens_estimate(prompt: Prompt) -> int:
    """About how many more when the provider counts the schema too (Anthropic's tool definition
    is input; OpenAI's structured-output schema may be)."""
    return math.ceil(len(json.dumps(prompt.schema)) / CHARS_PER_TOKEN)


def prompt_tokens_bound(prompt: Prompt) -> int:
    """At most how many input tokens the provider can count for ``prompt`` (see the module doc)."""
    size = sum(len(t.encode("utf-8", "replace")) for t in _texts(prompt))
    return size + len(json.dumps(prompt.schema, ensure_ascii=False).encode()) + TEMPLATE_TOKENS


def cost_micros(
    *,
    input_tokens: int,
    output_tokens: int,
    price_input_per_mtok: Decimal,
    price_output_per_mtok: Decimal,
    price_factor: Decimal = Decimal(1),
) -> int:
    """Cost of a call (or of many: token counts add up) in micro-dollars, rounded up.

    Prices are per million tokens, so tokens x price is already in micro-dollars. ``price_factor``
    scales both prices, e.g. 0.5 for a provider's batch mode.
    """
    micros = (Decimal(input_tokens) * price_input_per_mtok + Decimal(output_tokens) * price_output_per_mtok) * (
        price_factor
    )
    return int(micros.to_integral_value(rounding=ROUND_CEILING))


def usd(micros: int | None) -> Decimal | None:
    """Micro-dollars as dollars (6 decimal places), for pages and the API."""
    if micros is None:
        return None
    return (Decimal(micros) / MICROS_PER_USD).quantize(Decimal("0.000001"))


def micros_of(dollars: Decimal | None) -> int | None:
    """Dollars (a cap typed by a person) as micro-dollars; None stays None (no cap)."""
    if dollars is None:
        return None
    return int((Decimal(dollars) * MICROS_PER_USD).to_integral_value(rounding=ROUND_CEILING))
