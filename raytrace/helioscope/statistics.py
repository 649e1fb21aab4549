"""Expected upper limits on a signal strength from binned Poisson counts (the statistics of a sensitivity curve).

Bin i expects mu s_i + b_i counts: s_i is the signal at a reference coupling, b_i the background, and for axions
mu = (g_agamma / g_ref)^4 (the flux and the conversion probability each go as g^2). The test statistic for an
upper limit is the profile likelihood ratio (Cowan, Cranmer, Gross and Vitells, Eur. Phys. J. C 71 (2011) 1554,
"q_mu", eq. 14): q_mu = 2 sum_i [mu s_i + b_i - n_i - n_i ln((mu s_i + b_i) / (mu_hat s_i + b_i))] for
mu >= mu_hat (0 otherwise), with mu_hat >= 0 the maximum-likelihood signal strength. The 95 % CL upper limit is
the mu where q_mu reaches Phi^-1(0.95)^2 = 2.706 (its asymptotic distribution). On background-only Asimov data
(n_i = b_i, so mu_hat = 0) that limit is the median expected one (same paper, section 5): the number a sensitivity
curve shows. Pseudo-experiments give its spread.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.stats import norm

from ..defaults import CONFIDENCE


def _statistic(mu: float, mu_hat: float, signal, background, counts) -> float:
    if mu <= mu_hat:
        return 0.0
    return 2.0 * (
        _negative_log_likelihood(mu, signal, background, counts)
        - _negative_log_likelihood(mu_hat, signal, background, counts)
    )


def _best_fit(signal, background, counts) -> float:
    # The negative log-likelihood is convex in mu: if it does not fall at mu = 0, mu_hat = 0 (Asimov data: exactly).
    with np.errstate(divide="ignore", invalid="ignore"):
        slope_at_zero = np.sum(signal * (1.0 - np.where(background > 0, counts / background, 0.0)))
    if slope_at_zero >= 0:
        return 0.0
    upper = _strength_scale(signal, background, counts)
    result = minimize_scalar(
        _negative_log_likelihood,
        bounds=(0.0, upper),
        args=(signal, background, counts),
        method="bounded",
        options={"xatol": 1e-10 * upper},
    )
    at_zero = _negative_log_likelihood(0.0, signal, background, counts)
    return 0.0 if at_zero <= result.fun else float(result.x)


def upper_limit(signal, background, counts=None, confidence: float = CONFIDENCE) -> float:
    """The upper limit on mu at `confidence` from `counts` (default: the background-only Asimov data, i.e. the
    median expected limit)."""
    signal, background, counts = _bins(signal, background, background if counts is None else counts)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence}: must lie between 0 and 1")
    threshold = norm.ppf(confidence) ** 2
    low = _best_fit(signal, background, counts)
    high = max(low, 1.0) * _strength_scale(signal, background, counts)
    while _statistic(high, low, signal, background, counts) < threshold:
        high *= 10.0
    return float(
        brentq(
            lambda mu: _statistic(mu, low, signal, background, counts) - threshold,
            low,
            high,
            xtol=1e-12 * high,
            rtol=1e-12,
        )
    )


def pseudo_experiment_limits(
    signal, background, n_experiments: int, seed: int = 0, confidence: float = CONFIDENCE
) -> np.ndarray:
    """Upper limits on mu from `n_experiments` background-only data sets drawn from Poisson(b_i)."""
    signal, background, _ = _bins(signal, background, background)
    rng = np.random.default_rng(seed)
    return np.array(
        [upper_limit(signal, background, rng.poisson(background), confidence) for _ in range(int(n_experiments))]
    )


def _negative_log_likelihood(mu, signal, background, counts) -> float:
    expected = mu * signal + background
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(counts > 0, counts * np.log(expected), 0.0)
    return float(np.sum(expected - log_term))


def _strength_scale(signal, background, counts) -> float:
    """A signal strength that surely lies above the limit's scale: enough signal to add sqrt(total) + 10 counts."""
    total = float(np.sum(background) + np.sum(counts))
    return (np.sqrt(total) + 10.0) / float(np.sum(signal))


def _bins(signal, background, counts):
    signal, background, counts = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (signal, background, counts))
    if not signal.shape == background.shape == counts.shape:
        raise ValueError(
            f"signal, background and counts need one value per bin: shapes {signal.shape}, "
            f"{background.shape}, {counts.shape}"
        )
    for name, values in (("signal", signal), ("background", background), ("counts", counts)):
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(f"{name}: counts must be finite numbers >= 0")
    if not np.sum(signal) > 0:
        raise ValueError("signal: no bin expects any signal, so there is no limit")
    if np.any((background == 0) & (counts > 0)):
        raise ValueError("counts: a bin with no background and no signal cannot hold counts")
    return signal, background, counts
