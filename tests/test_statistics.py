"""Expected limits from binned Poisson counts, against the closed forms of the asymptotic formulae."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from raytrace.helioscope.statistics import pseudo_experiment_limits, upper_limit

Z95 = norm.ppf(0.95)  # 1.645


def test_a_large_background_gives_the_gaussian_limit():
    # q = (mu s)^2 / b for s << b: the median 95 % limit is mu s = 1.645 sqrt(b)
    b = 1e8
    assert upper_limit([1.0], [b]) == pytest.approx(Z95 * math.sqrt(b), rel=1e-3)


def test_no_background_gives_the_poisson_closed_form():
    # q = 2 mu s on Asimov data with b = 0: mu s = 1.645^2 / 2
    assert upper_limit([2.0], [0.0]) == pytest.approx(Z95**2 / 4.0, rel=1e-9)


def test_splitting_bins_into_identical_halves_changes_nothing():
    s, b = np.array([3.0, 1.0, 0.5]), np.array([10.0, 40.0, 2.0])
    assert upper_limit(np.repeat(s / 2, 2), np.repeat(b / 2, 2)) == pytest.approx(upper_limit(s, b), rel=1e-9)


def test_bins_without_signal_or_with_flat_signal_to_background_add_no_information():
    s, b = np.array([2.0, 5.0]), np.array([8.0, 20.0])  # the same s / b in both bins: one bin of their sums
    assert upper_limit(s, b) == pytest.approx(upper_limit([7.0], [28.0]), rel=1e-6)
    assert upper_limit([2.0, 0.0], [8.0, 100.0]) == pytest.approx(upper_limit([2.0], [8.0]), rel=1e-9)


def test_the_asimov_limit_is_the_median_of_pseudo_experiments():
    s, b = np.array([20.0, 40.0, 10.0]), np.array([400.0, 900.0, 100.0])
    limits = pseudo_experiment_limits(s, b, 400, seed=3)
    assert np.median(limits) == pytest.approx(upper_limit(s, b), rel=0.03)
    # the +1 sigma band: (1.645 + 1) / 1.645 of the median (upward fluctuations; mu_hat >= 0 only lifts the
    # lower band above its unconstrained (1.645 - 1) / 1.645)
    assert np.quantile(limits, 0.84) / np.median(limits) == pytest.approx((Z95 + 1) / Z95, rel=0.05)
    assert np.quantile(limits, 0.16) / np.median(limits) > (Z95 - 1) / Z95


def test_an_observed_excess_raises_the_limit():
    s, b = np.array([5.0]), np.array([25.0])
    assert upper_limit(s, b, counts=[40.0]) > upper_limit(s, b) > upper_limit(s, b, counts=[15.0])


@pytest.mark.parametrize(
    "signal, background, message",
    [
        ([0.0, 0.0], [1.0, 1.0], "no bin expects any signal"),
        ([1.0, -1.0], [1.0, 1.0], "signal: counts must be finite"),
        ([1.0], [1.0, 2.0], "one value per bin"),
    ],
)
def test_bad_bins_are_named(signal, background, message):
    with pytest.raises(ValueError, match=message):
        upper_limit(signal, background)
