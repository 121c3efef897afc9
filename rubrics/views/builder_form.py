"""The rubric builder's form: criterion cards posted as ``c-<uid>-<field>`` fields, in page order
(one hidden ``uid`` per card), turned into the definitions ``rubric_create`` / ``rubric_update``
take; and back, a definition as the card shows it. Only the fields of a criterion's scale kind
are read, so a hidden field of another kind never reaches the scale."""

from typing import Any

from rubrics.scales import MAX_ORDINAL_POINTS, ScaleKind
from rubrics.services import criterion_clean

_FLAGS = ("required", "rationale_required", "gate")


def _number(text: str) -> Any:
    """A number typed in a field; text that is not one goes through so the scale check words it."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _scale_from_post(post, prefix: str, kind: str) -> dict:
    def field(name: str) -> str:
        return post.get(f"{prefix}{name}", "")

    scale: dict[str, Any] = {"kind": kind}
    numbers = {
        ScaleKind.ORDINAL: ("min", "max"),
        ScaleKind.INTERVAL: ("min", "max", "step"),
        ScaleKind.RATIO: ("max",),
        ScaleKind.TEXT: ("max_length",),
    }.get(kind, ())
    for name in numbers:
        # The ratio block has a max field of its own (the ordinal / interval one is another input).
        posted = field("rmax" if kind == ScaleKind.RATIO and name == "max" else name)
        if posted.strip():
            scale[name] = _number(posted)
    labels: dict[str, str] = {}
    if kind == ScaleKind.BINARY:
        labels = {"true": field("label_true").strip(), "false": field("label_false").strip()}
    elif kind == ScaleKind.CATEGORICAL:
        scale["choices"] = [line.strip() for line in field("choices").splitlines() if line.strip()]
    elif kind == ScaleKind.ORDINAL:
        labels = {point: field(f"anchor-{point}").strip() for point, _ in ordinal_points(scale, {})}
    elif kind == ScaleKind.RATIO and field("unit").strip():
        scale["unit"] = field("unit").strip()
    labels = {point: text for point, text in labels.items() if text}
    if labels:
        scale["labels"] = labels
    return scale


def criteria_from_post(post) -> list[dict]:
    """``[{"uid", "definition"}]`` in the order the cards were on the page."""
    cards = []
    for uid in post.getlist("uid")[:200]:
        prefix = f"c-{uid}-"
        kind = post.get(f"{prefix}kind", "")
        definition = {
            "key": post.get(f"{prefix}key", "").strip(),
            "title": post.get(f"{prefix}title", "").strip(),
            "description": post.get(f"{prefix}description", "").strip(),
            "scale": _scale_from_post(post, prefix, kind),
            **{flag: post.get(f"{prefix}{flag}") == "on" for flag in _FLAGS},
        }
        if kind != ScaleKind.BINARY:
            definition["gate"] = False  # the box is hidden for other kinds
        cards.append({"uid": uid, "definition": definition})
    return cards


def ordinal_points(scale: dict, labels: dict) -> list[tuple[str, str]]:
    """The anchor rows of an ordinal scale (point, sentence); none while min or max is not a
    usable integer range."""
    low, high = scale.get("min"), scale.get("max")
    if not (isinstance(low, int) and isinstance(high, int)) or not (0 < high - low + 1 <= MAX_ORDINAL_POINTS):
        return []
    return [(str(p), labels.get(str(p), "")) for p in range(low, high + 1)]


def card_of(uid: str, definition: dict, errors: dict | None = None) -> dict:
    """What the card template needs for one criterion."""
    scale = definition.get("scale") or {}
    labels = scale.get("labels") or {}
    return {
        "uid": uid,
        "d": definition,
        "kind": scale.get("kind", ScaleKind.ORDINAL),
        "scale": scale,
        "choices": "\n".join(scale.get("choices", [])),
        "anchors": ordinal_points(scale, labels),
        "label_true": labels.get("true", ""),
        "label_false": labels.get("false", ""),
        "errors": errors or {},
    }


# Which field of a card a message of scale_clean is about (checked in order; else "scale").
_SCALE_FIELDS = (
    ("choice", "choices"),
    ("anchor", "anchors"),
    ("labels", "anchors"),
    ("step", "step"),
    ("unit", "unit"),
    ("max_length", "max_length"),
    ("points", "range"),
    ("min", "range"),
)


def _scale_errors_by_field(errors: dict[str, list[str]], kind: str) -> dict[str, list[str]]:
    """The scale's messages beside the field they are about (min and max share one place)."""
    out = {name: list(messages) for name, messages in errors.items() if name != "scale"}
    for message in errors.get("scale", []):
        field = next((f for word, f in _SCALE_FIELDS if word in message), "scale")
        if field == "scale" and kind == ScaleKind.RATIO and message.startswith("max"):
            field = "rmax"
        out.setdefault(field, []).append(message)
    return out


def cards_checked(cards: list[dict]) -> tuple[list[dict], list[dict], bool]:
    """The cards with each one's errors by field, the definitions that are valid, and whether all are."""
    seen: set[str] = set()
    out, valid = [], []
    for card in cards:
        cleaned, errors = criterion_clean(card["definition"], seen=seen)
        kind = (card["definition"].get("scale") or {}).get("kind", "")
        out.append(card_of(card["uid"], card["definition"], _scale_errors_by_field(errors, kind)))
        if cleaned is not None:
            valid.append(cleaned)
    return out, valid, len(valid) == len(cards)
