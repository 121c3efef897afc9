import pytest
from django.core.exceptions import ValidationError

from rubrics.scales import CriterionSpec, scale_clean, value_clean, values_clean

ORDINAL = {"kind": "ordinal", "min": 1, "max": 5}


@pytest.mark.parametrize(
    ("scale", "good", "bad"),
    [
        ({"kind": "binary"}, [True, False], [1, "true", None]),
        ({"kind": "categorical", "choices": ["a", "b"]}, ["a", "b"], ["c", 1, True]),
        (ORDINAL, [1, 5, 3.0], [0, 6, 2.5, True, "3"]),
        ({"kind": "interval", "min": 0, "max": 10, "step": 0.5}, [0, 9.5, 10], [-1, 10.1, 0.3, float("nan")]),
        ({"kind": "ratio"}, [0, 12.5, 1e6], [-0.1, "1", float("inf"), False]),
        ({"kind": "text", "max_length": 5}, ["", "short"], ["too long", 3]),
    ],
)
def test_it_accepts_values_on_the_scale_and_rejects_the_rest(scale, good, bad):
    scale = scale_clean(scale)
    for value in good:
        value_clean(scale, value)
    for value in bad:
        with pytest.raises(ValidationError):
            value_clean(scale, value)


def test_it_stores_integral_floats_on_ordinal_scales_as_integers():
    assert value_clean(scale_clean(ORDINAL), 3.0) == 3
    assert isinstance(value_clean(scale_clean(ORDINAL), 3.0), int)


@pytest.mark.parametrize(
    ("scale", "message"),
    [
        ({"kind": "stars"}, "scale kind must be one of"),
        ({"kind": "categorical", "choices": ["only"]}, "at least two"),
        ({"kind": "categorical", "choices": ["a", "a"]}, "unique"),
        ({"kind": "ordinal", "min": 5, "max": 1}, "min must be less than max"),
        ({"kind": "ordinal", "min": 1, "max": 5, "labels": {"9": "x"}}, "not a point of this scale"),
        ({"kind": "ordinal", "min": 1.5, "max": 5}, "integer min and max"),
        ({"kind": "interval", "min": 0, "max": 1, "step": 2}, "step"),
        ({"kind": "binary", "choices": ["a"]}, "does not take choices"),
        ("binary", "must be an object"),
    ],
)
def test_it_explains_what_is_wrong_with_a_scale(scale, message):
    with pytest.raises(ValidationError) as excinfo:
        scale_clean(scale)
    assert message in " ".join(excinfo.value.messages)


def test_it_reports_every_bad_criterion_by_key():
    criteria = [
        CriterionSpec("score", scale_clean(ORDINAL), rationale_required=True),
        CriterionSpec("ok", {"kind": "binary"}),
        CriterionSpec("note", {"kind": "text", "max_length": 100}, required=False),
    ]
    with pytest.raises(ValidationError) as excinfo:
        values_clean(criteria=criteria, values={"score": 9, "extra": 1}, rationales={})
    errors = excinfo.value.message_dict
    assert set(errors) == {"score", "ok", "extra"}
    assert "outside the scale" in errors["score"][0]
    assert errors["ok"] == ["this criterion is required."]
    assert "unknown criterion" in errors["extra"][0]


def test_it_requires_a_rationale_where_the_criterion_says_so():
    criteria = [CriterionSpec("score", scale_clean(ORDINAL), rationale_required=True)]
    with pytest.raises(ValidationError) as excinfo:
        values_clean(criteria=criteria, values={"score": 3}, rationales={"score": "   "})
    assert "rationale is required" in excinfo.value.message_dict["score"][0]
    values, rationales = values_clean(criteria=criteria, values={"score": 3}, rationales={"score": " because "})
    assert values == {"score": 3}
    assert rationales == {"score": "because"}


def test_it_lets_optional_criteria_be_left_out():
    criteria = [CriterionSpec("note", {"kind": "text", "max_length": 100}, required=False)]
    assert values_clean(criteria=criteria, values={}, rationales=None) == ({}, {})
