"""The rater model's error matrix (agreement/rater_model.py: where each label's errors land, shared
by all raters, fitted by EM; agreement/posterior.py: the posterior and the target use it in place
of the fixed decay): recovering a known spread from simulated ratings, and its edge cases."""

import numpy as np
import pytest

from agreement import error_weights, label_posterior, majority_accuracy, posterior_target_choose, rater_model_fit
from agreement.rater_model import ERROR_PRIOR_WEIGHT

POINTS = [1, 2, 3, 4, 5]


def _reflected() -> np.ndarray:
    """Errors one point off (80 %) or two (20 %), either way, reflected at the ends of the scale:
    a rater who misses a 1 says 2 or 3, one who misses a 2 says 1, 3 or (reflected) 4."""
    spread = np.zeros((5, 5))
    for y in range(5):
        for step, share in ((1, 0.8), (2, 0.2)):
            for sign in (-1, 1):
                to = y + sign * step
                spread[y, to if 0 <= to < 5 else y - sign * step] += share / 2
    return spread


def _ratings(rng, spread, *, items=3000, raters=20, overlap=3):
    truth = rng.choice(5, size=items, p=[0.1, 0.2, 0.3, 0.25, 0.15])
    accuracy = rng.uniform(0.75, 0.92, size=raters)
    units, who, values = [], [], []
    for i in range(items):
        for r in rng.choice(raters, overlap, replace=False):
            right = rng.random() < accuracy[r]
            v = truth[i] if right else rng.choice(5, p=spread[truth[i]])
            units.append(i)
            who.append(int(r))
            values.append(POINTS[v])
    return truth, accuracy, units, who, values


def test_it_recovers_where_errors_land_at_the_ends_of_an_ordinal_scale():
    rng = np.random.default_rng(7)
    spread = _reflected()
    _truth, accuracy, units, who, values = _ratings(rng, spread)
    model = rater_model_fit(units=units, raters=who, values=values, points=POINTS, level="ordinal")
    fitted = np.array(model.errors)
    assert np.abs(fitted - spread).max() < 0.09
    # What the symmetric decay cannot say: a missed 2 lands on 4 (reflected) twice as often as it
    # would by distance alone.
    decay = error_weights(5, "ordinal", model.error_decay)
    assert fitted[1, 3] == pytest.approx(0.2, abs=0.05) and decay[1, 3] < 0.15
    assert np.allclose(fitted.sum(axis=1), 1.0) and np.all(np.diag(fitted) == 0)
    assert np.abs([model.accuracy_of(r) for r in range(accuracy.size)] - accuracy).max() < 0.06


def test_it_learns_raters_who_err_one_way():
    # Lenient raters: a miss is one point up (down only from the top).
    lenient = np.zeros((5, 5))
    for y in range(5):
        lenient[y, y + 1 if y < 4 else 3] = 1.0
    rng = np.random.default_rng(8)
    _truth, _accuracy, units, who, values = _ratings(rng, lenient)
    model = rater_model_fit(units=units, raters=who, values=values, points=POINTS, level="ordinal")
    fitted = np.array(model.errors)
    assert all(fitted[y, y + 1] > 0.85 for y in range(4))
    # So a lone 3 is more likely a lenient 2 than a harsh 4, which the symmetric form cannot say.
    post = label_posterior(points=POINTS, level="ordinal", prior=[0.2] * 5, ratings=[3], rater_accuracy=0.8,
                           error_matrix=model.errors)  # fmt: skip
    symmetric = label_posterior(points=POINTS, level="ordinal", prior=[0.2] * 5, ratings=[3], rater_accuracy=0.8)
    assert post[1] > 5 * post[3] and symmetric[1] == pytest.approx(symmetric[3])


def test_it_keeps_the_fixed_form_where_few_errors_were_seen():
    # Six ratings, a single disagreement: the pseudo-errors hold each row near the decay's spread.
    model = rater_model_fit(units=[1, 1, 2, 2, 3, 3], raters=["x", "y"] * 3, values=[3, 3, 4, 4, 2, 3],
                            points=POINTS, level="ordinal")  # fmt: skip
    fixed = error_weights(5, "ordinal", model.error_decay)
    assert np.abs(np.array(model.errors) - fixed).max() < 1.5 / ERROR_PRIOR_WEIGHT


def test_a_two_point_scale_has_no_matrix_and_a_nominal_one_starts_even():
    binary = rater_model_fit(units=[1, 1], raters=["x", "y"], values=[0, 1], points=[0, 1])
    assert binary.errors is None and binary.as_dict()["errors"] is None
    nominal = rater_model_fit(units=[1, 1], raters=["x", "y"], values=["a", "b"], points=["a", "b", "c"])
    assert np.allclose(np.array(nominal.errors)[2], [0.5, 0.5, 0.0], atol=0.05)


def test_the_fixed_form_as_a_matrix_changes_nothing_and_a_bad_matrix_is_refused():
    spread = error_weights(5, "ordinal", 0.25)
    common = {"points": POINTS, "level": "ordinal", "ratings": [2, 3, 3], "rater_accuracy": [0.8, 0.9, 0.7]}
    assert np.allclose(label_posterior(**common, error_matrix=spread), label_posterior(**common))
    assert majority_accuracy(points=POINTS, level="ordinal", error_matrix=spread) == pytest.approx(
        majority_accuracy(points=POINTS, level="ordinal")
    )
    with pytest.raises(ValueError, match="5 x 5"):
        label_posterior(**common, error_matrix=np.ones((4, 4)))
    with pytest.raises(ValueError, match="off its diagonal"):
        label_posterior(**common, error_matrix=np.eye(5))


def test_the_target_is_priced_with_the_fitted_matrix():
    # Errors that pile up on one neighbour (lenient raters) make two wrong ratings agree more often,
    # so fixed overlap 3's median is less accurate: the target's simulation prices its reference
    # with the matrix, as the exact enumeration does.
    lenient = np.full((5, 5), 0.01)
    for y in range(5):
        lenient[y, y + 1 if y < 4 else 3] = 1.0
    common = {"points": POINTS, "level": "ordinal", "prior": [0.2] * 5}
    even = posterior_target_choose(**common, rater_accuracies=[0.8], simulations=20000)
    piled = posterior_target_choose(**common, rater_accuracies=[0.8], simulations=20000, error_matrix=lenient)
    exact = majority_accuracy(**common, rater_accuracy=0.8, error_matrix=lenient)
    assert piled.reference_accuracy == pytest.approx(exact, abs=0.006)
    assert piled.reference_accuracy < even.reference_accuracy - 0.015
    assert piled.expected_accuracy >= piled.reference_accuracy
