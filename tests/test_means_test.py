"""The safety net's coverage rule against its numpy reference, bit for bit."""

import numpy as np
import pytest

from model.programmes.means_test import safety_net_eligible, safety_net_eligible_numpy
from model.random import year_key

N = 5000


@pytest.mark.parametrize("means_test", [False, True])
@pytest.mark.parametrize("take_up", [0.0, 0.3, 0.7])
def test_safety_net_eligible(means_test, take_up):
    # 0.3 lies below its float32 value, 0.7 above: draws are compared in float32
    rng = np.random.default_rng(8)
    # year each household entered the safety net (> 0: in it; negative: stopped)
    start = rng.choice(np.array([0, 0, 0, 2015, 2016, 2017, 2018, -2016], np.int16), N)
    nc = 9
    category = rng.integers(0, 3, N).astype(np.int8)
    labourers = rng.integers(0, 3, N).astype(np.int8)
    income = (rng.random(N) * 6000).astype(np.float32)
    topup = np.where(rng.random(N) < 0.3, rng.random(N) * 2000, 0).astype(np.float32)
    county = rng.integers(0, nc, N).astype(np.int16)
    standard = (3000 + 1000 * rng.random(nc)).astype(np.float32)
    standard[0] = income[0]  # a tie: not below
    county[0] = 0
    hh_id = rng.permutation(10 * N)[:N].astype(np.int32)
    key = year_key(3, 9, 2018)
    args = (category, labourers, start, income, topup, county, standard, means_test, hh_id, key,
            take_up)
    got, ref = safety_net_eligible(*args), safety_net_eligible_numpy(*args)
    assert 0 < got.sum() < N
    np.testing.assert_array_equal(got, ref)
