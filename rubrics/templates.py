"""Built-in rubric templates: starting points a manager loads, then edits like any rubric.

A template is plain data in the shape ``rubric_create`` takes (name, instructions, criteria).
Loading one makes an ordinary rubric with its version 1; nothing links the rubric back to the
template afterwards, so editing it versions it like any other rubric and a later change to a
template never reaches rubrics already made from it.
"""

import copy

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from rubrics.models import RubricVersion
from rubrics.services import rubric_create

_AGENTIC_TASK_ACCEPTANCE = {
    "name": "Agentic task acceptance",
    "instructions": (
        "You are reviewing a task written for AI coding agents in the Terminal-Bench style. A task has "
        "four parts: the instruction the agent reads, a container environment it works in, tests that "
        "decide whether it succeeded, and a reference solution that should pass those tests.\n\n"
        "Read all four before answering. Judge the task, not the agent: an agent failing is not a "
        "reason to reject, but a task that no careful agent could pass from the instruction alone is. "
        "Answer each criterion yes or no and say why, pointing at the file or line that decided it. "
        "If any criterion is no, pick the rejection reason that best explains it."
    ),
    "criteria": [
        {
            "key": "achievable",
            "title": "Achievable",
            "description": (
                "The success criteria are well defined and unambiguous: everything the tests check "
                "(file names, formats, exit codes, outputs) is stated or clearly implied by the instruction."
            ),
            "scale": {
                "kind": "binary",
                "labels": {
                    "true": "A careful agent can pass from the instruction; nothing the tests expect is unstated.",
                    "false": "The tests expect something the instruction does not say, or the goal is ambiguous.",
                },
            },
            "rationale_required": True,
            "gate": True,
        },
        {
            "key": "non_trivial",
            "title": "Non-trivial",
            "description": (
                "Solving the task takes real work: several steps, reading the environment, or reasoning "
                "beyond a single obvious command."
            ),
            "scale": {
                "kind": "binary",
                "labels": {
                    "true": "The task needs several steps or genuine reasoning to solve.",
                    "false": "One obvious command or a copy of the instruction solves it.",
                },
            },
            "rationale_required": True,
            "gate": True,
        },
        {
            "key": "functionally_correct",
            "title": "Functionally correct",
            "description": (
                "The code and logic are valid in both the reference solution and the tests: the solution "
                "does what the instruction asks, and the tests check that rather than something else."
            ),
            "scale": {
                "kind": "binary",
                "labels": {
                    "true": "The solution is right and the tests pass it for the right reasons.",
                    "false": "The solution or the tests contain a bug, or the tests check the wrong thing.",
                },
            },
            "rationale_required": True,
            "gate": True,
        },
        {
            "key": "reliable",
            "title": "Reliable",
            "description": (
                "The environment provides every dependency the task needs, and runs are reproducible: "
                "no network fetches that can fail, unpinned versions, timing or randomness that changes "
                "the outcome."
            ),
            "scale": {
                "kind": "binary",
                "labels": {
                    "true": "Every dependency is in the environment and repeated runs give the same result.",
                    "false": "A dependency is missing or fetched at run time, or results vary between runs.",
                },
            },
            "rationale_required": True,
            "gate": True,
        },
        {
            "key": "rejection_reason",
            "title": "Rejection reason",
            "description": "Asked when any criterion fails: the main reason the task should not be accepted as is.",
            "scale": {
                "kind": "categorical",
                "choices": [
                    "underspecified requirement",
                    "implicit dependency",
                    "broken environment",
                    "test mismatch",
                    "trivial",
                    "other",
                ],
                "labels": {
                    "underspecified requirement": "The instruction leaves out something the tests require.",
                    "implicit dependency": "The task needs a tool, file or service the environment does not provide.",
                    "broken environment": "The container does not build or start, or is unusable as shipped.",
                    "test mismatch": "The tests check something other than what the instruction asks.",
                    "trivial": "The task is too easy to tell agents apart.",
                    "other": "Another reason; explain it in the rationale.",
                },
            },
            "required": False,
        },
    ],
}

_AGENT_FAILURE_MODE = {
    "name": "Agent failure mode",
    "instructions": (
        "You are reading the trajectory of an AI agent that failed a task: its commands, their output "
        "and the final test results. Pick the one failure mode that best explains why it failed. If "
        "several apply, pick the earliest in the run that made success impossible. Use the note for "
        "anything the choice does not capture."
    ),
    "criteria": [
        {
            "key": "failure_mode",
            "title": "Failure mode",
            "description": "The main reason the agent did not pass the tests.",
            "scale": {
                "kind": "categorical",
                "choices": [
                    "wrong approach",
                    "incomplete solution",
                    "syntax error",
                    "logic error",
                    "edge-case failure",
                    "test mismatch",
                    "timeout",
                    "environment issue",
                    "other",
                ],
                "labels": {
                    "wrong approach": "The agent pursued a strategy that could not solve the task.",
                    "incomplete solution": "The approach was sound but the agent stopped before finishing.",
                    "syntax error": "The agent's code or commands failed to parse or run.",
                    "logic error": "The code ran but computed the wrong result.",
                    "edge-case failure": "The solution works in the main case but fails on edge cases the tests cover.",
                    "test mismatch": "The agent did what the instruction asked, but the tests expect something else.",
                    "timeout": "The agent ran out of time or steps before finishing.",
                    "environment issue": "The environment, not the agent, caused it (missing tool, bad setup).",
                    "other": "None of the above; explain in the note.",
                },
            },
        },
        {
            "key": "note",
            "title": "Note",
            "description": "Anything a reviewer should know about this failure.",
            "scale": {"kind": "text"},
            "required": False,
        },
    ],
}

TEMPLATES: dict[str, dict] = {
    "agentic-task-acceptance": _AGENTIC_TASK_ACCEPTANCE,
    "agent-failure-mode": _AGENT_FAILURE_MODE,
}

# Failures that say more about the task than about the agent: the agent could not have passed.
DEGENERATE_FAILURE_MODES = {"test mismatch", "environment issue"}


def failure_class(mode: str) -> str:
    """'degenerate' for failures caused by the task or its environment, else 'meaningful'."""
    return "degenerate" if mode in DEGENERATE_FAILURE_MODES else "meaningful"


def template_list() -> list[dict]:
    """Every template as {key, name, instructions, criteria}; copies, so callers may change them."""
    return [{"key": key, **copy.deepcopy(template)} for key, template in TEMPLATES.items()]


def rubric_from_template(*, actor: AbstractBaseUser | None, template: str, name: str | None = None) -> RubricVersion:
    """Create a rubric (version 1) from a built-in template, named ``name`` or after the template.

    Raises ValidationError keyed ``template`` for an unknown template; the rubric is otherwise
    created by ``rubric_create``, with the same checks and in one transaction.
    """
    if template not in TEMPLATES:
        raise ValidationError(
            {"template": [f"unknown template {template!r}; choose one of {', '.join(sorted(TEMPLATES))}."]}
        )
    data = copy.deepcopy(TEMPLATES[template])
    return rubric_create(
        actor=actor,
        name=name if name is not None and name.strip() else data["name"],
        instructions=data["instructions"],
        criteria=data["criteria"],
    )
