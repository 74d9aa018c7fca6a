"""Paired comparisons by seed: the t-interval's coverage, checked by a deterministic simulation."""

import numpy as np
import pytest

from isoflop.report.paired import differences, paired_mean, relative_costs


@pytest.mark.parametrize("seeds", [2, 3, 5])
def test_the_95_percent_t_interval_covers_the_true_mean_95_percent_of_the_time(seeds):
    generator = np.random.default_rng(20261201)
    trials, covered = 4000, 0
    for _ in range(trials):
        # Per-seed costs: a true cost of +3 % with a seed spread of 2 % (independent normal draws).
        result = paired_mean(list(0.03 + 0.02 * generator.standard_normal(seeds)))
        covered += result.interval[0] <= 0.03 <= result.interval[1]
    # Binomial standard error at 4,000 trials: 0.34 %; the band is about 4 of them.
    assert 0.935 <= covered / trials <= 0.965


def test_pairing_by_seed_removes_what_the_seeds_share():
    # Seed-to-seed spread 0.5, cost 0.1 on every seed: unpaired the cost drowns, paired it is exact.
    reference = {1: 7.0, 2: 7.5, 3: 8.0}
    scarce = {seed: loss + 0.1 for seed, loss in reference.items()}
    paired = differences(scarce, reference)
    assert paired.mean == pytest.approx(0.1) and paired.interval == pytest.approx((0.1, 0.1))
    assert paired.outside_spread


def test_one_seed_gives_no_interval_and_no_shared_seed_gives_nothing():
    one = relative_costs({1: 8.0}, {1: 7.0})
    assert one.interval is None and one.outside_spread is None and one.mean == pytest.approx(1 / 7)
    assert relative_costs({1: 8.0}, {2: 7.0}) is None


def test_a_cost_inside_the_seed_spread_is_said_to_be():
    result = differences({1: 7.1, 2: 6.9, 3: 7.05}, {1: 7.0, 2: 7.0, 3: 7.0})
    assert result.outside_spread is False and result.low == pytest.approx(-0.1) and result.high == pytest.approx(0.1)
