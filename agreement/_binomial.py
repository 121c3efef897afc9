"""Exact (Clopper-Pearson) bounds for a proportion, and the normal quantile, without scipy.

The lower bound ``L`` for ``k`` successes in ``n`` trials at one-sided level ``1 - delta`` is
the ``p`` at which ``P(Bin(n, p) >= k) = delta``; that tail grows with ``p``, so bisection finds
it.  Exact rather than Wilson or Wald because the routing threshold claims a guarantee, and
near accuracies of 0.95-1.0 on a few hundred gold items the approximations are anti-conservative.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

_BISECTIONS = 50  # halves [0, 1] to below 1e-15
_CHUNK_ELEMENTS = 1 << 20  # pairs x tail terms per bisection step: 8 MB per temporary


def normal_quantile(ci_level: float) -> float:
    """``z`` with ``P(|Z| <= z) = ci_level`` for a standard normal ``Z``."""
    check_level(ci_level)
    return NormalDist().inv_cdf(0.5 + ci_level / 2.0)


def check_level(ci_level: float) -> None:
    """Reject a confidence level outside (0, 1)."""
    if not 0.0 < ci_level < 1.0:
        raise ValueError(f"ci_level must be strictly between 0 and 1; got {ci_level!r}")


def lower_bounds(successes: np.ndarray, trials: np.ndarray, delta: float) -> np.ndarray:
    """One-sided Clopper-Pearson lower bounds for many ``(k, n)`` pairs at once:
    ``P(true p < bound) <= delta`` for each; bisection on all of them together."""
    k = np.asarray(successes, dtype=np.int64).reshape(-1)
    n = np.asarray(trials, dtype=np.int64).reshape(-1)
    if k.shape != n.shape or np.any(n <= 0) or np.any((k < 0) | (k > n)):
        raise ValueError("need 0 <= successes <= trials and trials > 0 for every pair")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie strictly between 0 and 1; got {delta!r}")
    out = np.zeros(k.size)
    rows = np.flatnonzero(k > 0)  # no success: the bound is 0
    if rows.size == 0:
        return out
    # Below p = k/n (where the bound lies) the terms of P(X >= k) fall from j = k on, like a
    # normal tail of sd sqrt(k (n - k) / n): beyond 12 sd they are under 1e-30 of the sum.
    span = np.minimum(n - k, np.ceil(12.0 * np.sqrt(k * (n - k) / n)).astype(np.int64) + 30)
    rows = rows[np.argsort(span[rows], kind="stable")]  # similar widths share a chunk
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, int(n.max()) + 1, dtype=np.float64)))])
    start = 0
    while start < rows.size:
        stop = start + 1
        while stop < rows.size and (stop - start + 1) * (int(span[rows[stop]]) + 1) <= _CHUNK_ELEMENTS:
            stop += 1
        chunk = rows[start:stop]
        out[chunk] = _bisect(k[chunk], n[chunk], span[chunk], delta, log_fact)
        start = stop
    return out


def _bisect(k: np.ndarray, n: np.ndarray, span: np.ndarray, delta: float, log_fact: np.ndarray) -> np.ndarray:
    """Lower bounds of one chunk of pairs (every ``k`` positive), summing terms ``k .. k + span``."""
    offset = np.arange(int(span.max()) + 1)
    inside = offset <= span[:, None]
    j = np.minimum(k[:, None] + offset, n[:, None])
    n_col = n[:, None]
    log_choose = np.where(inside, log_fact[n][:, None] - log_fact[j] - log_fact[n_col - j], -np.inf)
    lo, hi = np.zeros(k.size), k / n
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2.0
        with np.errstate(divide="ignore"):
            log_p, log_q = np.log(mid)[:, None], np.log1p(-mid)[:, None]
        terms = log_choose + j * log_p + (n_col - j) * log_q
        peak = terms.max(axis=1)
        tail = np.exp(peak) * np.exp(terms - peak[:, None]).sum(axis=1)
        below = tail < delta  # P(X >= k | mid) still below delta: the bound lies above mid
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return lo


def lower_bound(k: int, n: int, delta: float) -> float:
    """One-sided Clopper-Pearson lower bound: ``P(true p < bound) <= delta``."""
    _check_counts(k, n)
    return float(lower_bounds(np.array([k]), np.array([n]), delta)[0])


def upper_bound(k: int, n: int, delta: float) -> float:
    """One-sided Clopper-Pearson upper bound: ``P(true p > bound) <= delta``."""
    _check_counts(k, n)
    return 1.0 - lower_bound(n - k, n, delta)


def interval(k: int, n: int, ci_level: float) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval at ``ci_level`` (each tail ``(1 - ci_level) / 2``)."""
    check_level(ci_level)
    delta = (1.0 - ci_level) / 2.0
    return lower_bound(k, n, delta), upper_bound(k, n, delta)


def _check_counts(k: int, n: int) -> None:
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0; got {k} of {n}")
