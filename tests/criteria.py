"""The rubric criteria the test worlds are built on, written once.

tests/conftest.py rates on all four; the security world (tests/security/world.py) on the first two.
"""

HELPFULNESS = {
    "key": "helpfulness",
    "title": "Helpfulness",
    "scale": {"kind": "ordinal", "min": 1, "max": 5, "labels": {"1": "Useless.", "5": "Perfect."}},
    "rationale_required": True,
}
CORRECT = {"key": "correct", "title": "Correct", "scale": {"kind": "binary"}}
TONE = {"key": "tone", "title": "Tone", "scale": {"kind": "categorical", "choices": ["ok", "rude"]}}
NOTES = {"key": "notes", "title": "Notes", "scale": {"kind": "text"}, "required": False}
