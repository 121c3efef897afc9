"""Show an item's data by its shape: text, Markdown, code, chat transcripts, agent traces, JSON.

Item data is untrusted. Everything here returns plain values that templates autoescape, except
Markdown, which is rendered and then cleaned by nh3 before it is marked safe; that is the only
``mark_safe`` on item content in Accord.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

import markdown as markdown_lib
import nh3
from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Fields shown first, in this order; anything else follows in the order the importer sent it.
_FIELD_ORDER = ["instruction", "prompt", "question", "context", "messages", "response", "answer", "trace", "steps"]
# Field names whose strings are code whatever they contain (agentic tasks: environment, tests...).
_CODE_FIELDS = {
    "code", "solution", "tests", "test", "environment", "dockerfile", "patch", "diff", "script",
    "snippet", "program", "command", "cmd", "source_code", "test_code", "setup",
}  # fmt: skip
_LANGUAGE_BY_FIELD = {"dockerfile": "dockerfile", "environment": "dockerfile", "patch": "diff", "diff": "diff"}

# Long tool outputs start folded so a trace stays scannable.
FOLD_CHARS = 1_500
FOLD_LINES = 25

_MARKDOWN_HINT = re.compile(
    r"(^|\n)[ \t]{0,3}(#{1,6}\s|[-*+]\s|\d+[.)]\s|>\s|```|~~~)"  # headings, lists, quotes, fences
    r"|\*\*[^*\n]+\*\*|__[^_\n]+__|(?<![*\w])\*[^*\s][^*\n]*\*(?!\*)"  # emphasis
    r"|`[^`\n]+`|\[[^\]\n]+\]\([^)\s]+\)"  # inline code, links
)
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import |#include|function |const |let |var |public |private |package |"
    r"fn |func |SELECT |INSERT |UPDATE |CREATE |RUN |COPY |WORKDIR |FROM \S|if \(|for \(|while \(|return\b|@\w+)"
    r"|[;{}]\s*$|^\s{2,}\S.*[:(,]\s*$"
)
# Multiline patterns use [ \t]* rather than \s*: under re.M, \s* would run across newlines from
# every line start and make a guess quadratic in the number of blank lines of an item.
_LANGUAGE_HINTS = [
    ("dockerfile", re.compile(r"^[ \t]*FROM \S+", re.M)),
    ("diff", re.compile(r"^(diff --git|--- a/|\+\+\+ b/|@@ )", re.M)),
    ("bash", re.compile(r"^(#!/bin/(ba)?sh|#!/usr/bin/env (ba)?sh|\$ )", re.M)),
    ("python", re.compile(r"^[ \t]*(def |class \w+.*:|import \w|from \w[\w.]* import |print\()", re.M)),
    ("sql", re.compile(r"^[ \t]*(SELECT|INSERT|UPDATE|DELETE|CREATE TABLE|WITH)\b", re.M | re.I)),
    ("javascript", re.compile(r"^[ \t]*(function |const |let |var |export |import .* from ')|=>", re.M)),
    ("go", re.compile(r"^[ \t]*(package \w+|func \w+\()", re.M)),
    ("rust", re.compile(r"^[ \t]*(fn \w+|use \w+::|let mut )", re.M)),
]
# The shape heuristics read at most this much of a field; rendering always shows all of it.
_SNIFF_CHARS = 20_000
_SNIFF_LINES = 200
_SNIFF_LINE_CHARS = 500

_MD_EXTENSIONS = ["fenced_code", "tables", "sane_lists"]
_CODE_CLASS = re.compile(r"^language-[A-Za-z0-9_+-]{1,32}$")
_ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "code": {"class"}}


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    # Fenced code keeps its language class (for highlighting); no other class survives.
    if attribute == "class":
        return value if element == "code" and _CODE_CLASS.match(value) else None
    return value


# Python-Markdown's inline patterns are super-linear on some inputs (thousands of unmatched "["
# take tens of seconds), and item text is written by strangers. Text beyond these limits is
# shown as plain text instead. Fenced code is not counted: it bypasses the inline patterns.
MAX_MARKDOWN_CHARS = 30_000
MAX_MARKDOWN_BRACKETS = 100
MAX_MARKDOWN_ANGLES = 400
MAX_MARKDOWN_MARKS = 1_000  # *, _ and ` together
MAX_MARKDOWN_NESTING = 8  # list and quote markers opening one line ("- > 1. - ...")


def _marker_depth(line: str) -> int:
    """How many list / quote markers open ``line``, counting no further than the limit."""
    depth, i, n = 0, 0, len(line)
    while depth <= MAX_MARKDOWN_NESTING:
        while i < n and line[i] in " \t":
            i += 1
        if i < n and line[i] in ">-*+":
            depth, i = depth + 1, i + 1
            continue
        j = i
        while j < n and j - i < 10 and line[j].isdigit():
            j += 1
        if j > i and j < n and line[j] in ".)":
            depth, i = depth + 1, j + 1
            continue
        break
    return depth


def markdown_affordable(text: str) -> bool:
    if len(text) > MAX_MARKDOWN_CHARS:
        return False
    brackets = angles = marks = 0
    fence = ""
    for line in text.splitlines():
        marker = line.lstrip()[:3]
        if marker in ("```", "~~~"):
            fence = "" if fence == marker else (fence or marker)
            continue
        if not fence:
            if _marker_depth(line) > MAX_MARKDOWN_NESTING:
                return False
            brackets += line.count("[")
            angles += line.count("<")
            marks += line.count("*") + line.count("_") + line.count("`")
    return brackets <= MAX_MARKDOWN_BRACKETS and angles <= MAX_MARKDOWN_ANGLES and marks <= MAX_MARKDOWN_MARKS


def markdown_clean(text: str, *, images: bool = True) -> SafeString:
    """Markdown to HTML, sanitised by nh3: no scripts, event handlers, styles or javascript: URLs.

    Item content passes ``images=False``: an image would make every annotator's browser fetch
    a URL chosen by whoever wrote the item.
    """
    html = markdown_lib.markdown(text or "", extensions=_MD_EXTENSIONS, output_format="html")
    tags = set(nh3.ALLOWED_TAGS) if images else set(nh3.ALLOWED_TAGS) - {"img"}
    attributes = _ATTRIBUTES if images else {k: v for k, v in _ATTRIBUTES.items() if k != "img"}
    cleaned = nh3.clean(
        html,
        tags=tags,
        attributes=attributes,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto"},
    )
    return mark_safe(cleaned)  # nh3 output: the one safe-marking of item content


def markdown_render(text: str, *, images: bool = True) -> SafeString | None:
    """``markdown_clean`` for text of unknown origin: None when rendering it would be too costly
    (or Python-Markdown recurses too deep, as it does on deeply nested list markers), so the
    caller shows it as plain text."""
    if not markdown_affordable(text):
        return None
    try:
        return markdown_clean(text, images=images)
    except RecursionError:
        return None


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """``{{ project.guidelines|markdown }}``: rendered and sanitised, or escaped plain text."""
    text = text or ""
    html = markdown_render(text)
    return html if html is not None else format_html('<div class="plain">{}</div>', text)


@dataclass
class Block:
    """One piece of an item as a template draws it; ``kind`` picks the partial."""

    kind: str  # text | markdown | code | chat | trace | json | scalar
    label: str = ""
    text: str = ""
    html: SafeString | None = None
    language: str = ""
    folded: bool = False
    messages: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return self.text.count("\n") + 1


def _label(key: str) -> str:
    return str(key).replace("_", " ").strip().capitalize() or "Value"


def _is_long(text: str) -> bool:
    return len(text) > FOLD_CHARS or text.count("\n") > FOLD_LINES


def language_guess(text: str) -> str:
    sample = text[:_SNIFF_CHARS]
    for language, pattern in _LANGUAGE_HINTS:
        if pattern.search(sample):
            return language
    stripped = text.strip()
    if stripped[:1] in "{[" and len(stripped) <= 1_000_000:
        try:
            json.loads(stripped)
            return "json"
        except ValueError:
            pass
    return ""


def looks_like_code(text: str) -> bool:
    if "```" in text or "~~~" in text:
        return False  # Markdown with fenced code: the fences are shown as code blocks anyway.
    stripped = text.lstrip()
    if stripped.startswith(("#!", "diff --git", "--- a/")) or re.match(r"FROM \S+", stripped):
        return True
    lines = [line[:_SNIFF_LINE_CHARS] for line in text[:_SNIFF_CHARS].splitlines()[:_SNIFF_LINES] if line.strip()]
    if len(lines) < 2:
        return False
    codeish = sum(1 for line in lines if _CODE_LINE.search(line))
    return codeish / len(lines) >= 0.5


def string_block(key: str, text: str, *, label: str | None = None) -> Block:
    label = _label(key) if label is None else label
    name = str(key).lower()
    if name in _CODE_FIELDS or looks_like_code(text):
        language = _LANGUAGE_BY_FIELD.get(name) or language_guess(text)
        return Block(kind="code", label=label, text=text, language=language, folded=_is_long(text))
    if _MARKDOWN_HINT.search(text[:_SNIFF_CHARS]):
        html = markdown_render(text, images=False)
        if html is not None:
            return Block(kind="markdown", label=label, text=text, html=html)
    return Block(kind="text", label=label, text=text)


def value_block(key: str, value: Any, *, label: str | None = None) -> Block:
    label = _label(key) if label is None else label
    if isinstance(value, str):
        return string_block(key, value, label=label)
    if value is None or isinstance(value, bool | int | float):
        return Block(kind="scalar", label=label, text=json.dumps(value))
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return Block(kind="json", label=label, text=text, language="json", folded=_is_long(text))


def _is_chat(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) and "content" in m for m in value)
    )


def chat_block(key: str, messages: list[dict]) -> Block:
    rendered = []
    for message in messages:
        role = message["role"].strip().lower() or "unknown"
        extra = {k: v for k, v in message.items() if k not in {"role", "content"}}
        rendered.append(
            {
                "role": role,
                "body": value_block("content", message["content"], label=""),
                "extra": value_block("details", extra, label="Details") if extra else None,
            }
        )
    return Block(kind="chat", label=_label(key), messages=rendered)


_STEP_KINDS = {
    "thought": "thought", "thinking": "thought", "reasoning": "thought", "think": "thought", "plan": "thought",
    "tool_call": "tool_call", "action": "tool_call", "call": "tool_call", "tool_use": "tool_call",
    "tool_output": "tool_output", "observation": "tool_output", "tool_result": "tool_output",
    "output": "tool_output", "result": "tool_output",
}  # fmt: skip
_STEP_TITLES = {"thought": "Thought", "tool_call": "Tool call", "tool_output": "Tool output", "step": "Step"}


def _first(step: dict, *keys: str) -> tuple[str | None, Any]:
    for key in keys:
        if key in step and step[key] not in (None, ""):
            return key, step[key]
    return None, None


def _trace_step(index: int, step: Any) -> dict:
    if not isinstance(step, dict):
        block = value_block("step", step, label="")
        return {"index": index, "kind": "step", "title": "Step", "name": "", "blocks": [block], "folded": False}
    raw_kind = str(step.get("kind") or step.get("type") or "").lower()
    kind = _STEP_KINDS.get(raw_kind, "step")
    used: set[str] = {"kind", "type"}
    blocks: list[Block] = []
    name = ""
    if kind == "tool_call":
        name_key, tool = _first(step, "name", "tool", "function")
        if name_key:
            used.add(name_key)
            name = str(tool) if not isinstance(tool, dict) else str(tool.get("name", ""))
        args_key, args = _first(step, "args", "arguments", "input", "parameters", "content")
        if args_key:
            used.add(args_key)
            if isinstance(args, str):
                blocks.append(Block(kind="code", label="Arguments", text=args, language=language_guess(args)))
            else:
                blocks.append(value_block(args_key, args, label="Arguments"))
    else:
        body_key, body = _first(step, "content", "text", "thought", "output", "result", "observation")
        if body_key:
            used.add(body_key)
            if kind == "tool_output" and isinstance(body, str):
                language = language_guess(body) if looks_like_code(body) else ""
                blocks.append(Block(kind="code", label="", text=body, language=language, folded=_is_long(body)))
            else:
                blocks.append(value_block(body_key, body, label=""))
        name_key, tool = _first(step, "name", "tool")
        if name_key and kind == "tool_output":
            used.add(name_key)
            name = str(tool)
    for key, value in step.items():
        if key not in used:
            blocks.append(value_block(key, value))
    folded = any(b.folded for b in blocks)
    for block in blocks:
        block.folded = False  # the step's <details> does the folding
    return {"index": index, "kind": kind, "title": _STEP_TITLES[kind], "name": name, "blocks": blocks, "folded": folded}


def trace_block(key: str, steps: list) -> Block:
    return Block(kind="trace", label=_label(key), steps=[_trace_step(i, s) for i, s in enumerate(steps, start=1)])


def item_blocks(data: Any) -> list[Block]:
    """Split an item's data into blocks in reading order: known fields first, then the rest."""
    if not isinstance(data, dict):
        return [value_block("data", data)]
    keys = [k for k in _FIELD_ORDER if k in data] + [k for k in data if k not in _FIELD_ORDER]
    blocks = []
    for key in keys:
        value = data[key]
        if key == "messages" and _is_chat(value):
            blocks.append(chat_block(key, value))
        elif key in {"trace", "steps"} and isinstance(value, list):
            blocks.append(trace_block(key, value))
        elif key == "trace" and isinstance(value, dict) and isinstance(value.get("steps"), list):
            blocks.append(trace_block(key, value["steps"]))
            rest = {k: v for k, v in value.items() if k != "steps"}
            if rest:
                blocks.append(value_block("trace_details", rest))
        else:
            blocks.append(value_block(key, value))
    return blocks


@register.inclusion_tag("annotation/_item.html")
def item_body(data: Any) -> dict:
    """``{% item_body item.data %}``: the item drawn block by block."""
    return {"blocks": item_blocks(data)}
