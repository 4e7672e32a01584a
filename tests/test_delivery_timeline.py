"""The closed form of in-year delivery (model/engine/delivery_timeline.py)
gives the event model's results bit for bit, on random settings and on
settings made of whole months, where events tie."""

from __future__ import annotations

import numpy as np
import pytest

from model.engine.delivery import CARRY_BINS, Carry, Settings, deliver
from model.engine.delivery_timeline import tranche_events

FIELDS = ("in_effect", "backlog", "fraction_of_year", "monthly_share", "monthly_households",
          "spent", "unspent")


def random_year(case: int, whole: bool):
    """Inputs and settings of one year; ``whole``: every time and rate a small
    whole number, so that payments, approvals and tranches fall together."""
    rng = np.random.default_rng(300 + case)
    nc, npr = int(rng.integers(1, 9)), int(rng.integers(1, 6))
    enrolments = rng.poisson(rng.uniform(1, 300), (nc, npr)) * (rng.random((nc, npr)) > 0.2)
    building = np.zeros((nc, npr, CARRY_BINS), np.int64)
    approved = np.zeros((nc, npr), np.int64)
    if rng.random() < 0.5:  # a backlog carried from last year
        approved = rng.binomial(enrolments, 0.3)
        building[..., 3] = rng.binomial(enrolments - approved, 0.2)
    carry = Carry(approved, building)
    needing = enrolments - building.sum(-1)
    budget = needing * rng.choice([0.0, 10.0, 100.0], (nc, npr)) * rng.uniform(0.3, 1.2)
    if whole:
        pick = lambda *options: float(rng.choice(options))  # noqa: E731
        settings = Settings(
            build_months=tuple(float(b) for b in rng.integers(0, 5, npr)),
            funds_advance_share=pick(0.0, 0.5, 1.0), funds_advance_month=pick(0, 1, 2, 3),
            funds_rest_issue_month=pick(0, 2, 3, 4), funds_forward_lag=pick(0, 1, 2),
            approval_per_month=pick(np.inf, 0.0, 10.0, 20.0, 40.0),
            approval_months=pick(0, 1, 2), approval_spread=pick(0.0, 0.0, 0.5),
            teams_per_village=pick(np.inf, 0.0, 1.0, 2.0),
            households_per_team_month=pick(5.0, 10.0, 20.0), lots=int(rng.integers(1, 6)),
            scale=pick(1.0, 1.0, 0.1, 0.01))
    else:
        settings = Settings(
            build_months=tuple(rng.uniform(0, 14, npr)),
            funds_advance_share=rng.uniform(0, 1), funds_advance_month=rng.uniform(0, 6),
            funds_rest_issue_month=rng.uniform(0, 9), funds_forward_lag=rng.uniform(0, 3),
            approval_per_month=rng.uniform(10, 500), approval_months=rng.uniform(0, 3),
            approval_spread=rng.uniform(0, 1), teams_per_village=rng.uniform(0.2, 3),
            households_per_team_month=rng.uniform(2, 40), lots=int(rng.integers(1, 13)),
            scale=1.0 if rng.random() < 0.5 else rng.uniform(0.005, 1.0))
    villages = rng.integers(0, 6, nc) if whole else rng.integers(1, 30, nc)
    unit = None if rng.random() < 0.5 else rng.choice([0.0, 10.0, 100.0], (nc, npr))
    return (enrolments, budget, settings), dict(villages=villages, carry=carry, unit_cost=unit)


@pytest.mark.parametrize("whole", [False, True])
def test_closed_form_is_the_event_model_bit_for_bit(whole):
    for case in range(150):
        args, kw = random_year(case, whole)
        fast = deliver(2016, *args, seed=case, **kw)
        events = deliver(2016, *args, seed=case, events=True, **kw)
        for name in FIELDS:
            a, b = getattr(fast, name), getattr(events, name)
            assert a.dtype == b.dtype and np.array_equal(a, b), (case, name)
        assert np.array_equal(fast.carry.approved, events.carry.approved), case
        assert np.array_equal(fast.carry.building, events.carry.building), case
        assert np.array_equal(fast.carry.building_total, fast.carry.building.sum(axis=-1)), case


def test_tranche_times_are_the_event_model_timeouts():
    times, shares, scheduled = tranche_events([(0.0, 0.2), (0.1, 0.5), (0.7, 1.0)])
    assert times.tolist() == [0.0, 0.1, 0.1 + (0.7 - 0.1)]
    assert shares.tolist() == [0.2, 0.5, 1.0]
    assert scheduled.tolist() == [0.0, 0.0, 0.1]


def test_a_payment_due_when_the_second_tranche_arrives_waited_from_before_the_first():
    """The tie the closed form leaves to the event model: money in two
    tranches (month 1 and month 3), an approval ready exactly at month 3 whose
    wait began at month 0. The event model pays 2 households with the old
    share, then 5 with the new one, and the mean fraction of the year differs
    in its last bit from paying all 7 at once."""
    s = Settings(build_months=(0.1,), funds_advance_share=0.3, funds_advance_month=1.0,
                 funds_rest_issue_month=3.0, approval_months=3.0, lots=1)
    args = (np.array([[7]]), np.array([[70.0]]), s)
    fast, events = (deliver(2016, *args, seed=1, events=e) for e in (False, True))
    assert fast.fraction_of_year.tolist() == events.fraction_of_year.tolist()
    assert fast.in_effect.tolist() == [[7]]
    at_once = 7 * (12 - 3.1) / 12 / 7
    assert fast.fraction_of_year[0, 0] == (2 * (12 - 3.1) / 12 + 5 * (12 - 3.1) / 12) / 7
    assert fast.fraction_of_year[0, 0] != at_once
