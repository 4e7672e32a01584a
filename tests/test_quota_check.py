"""The pathway-quota check: the income gain a plan's quota implies against
what the batch's programmes give, as parameterised."""

from __future__ import annotations

import dataclasses

import pytest

from model.analysis import quota_check
from model.engine.codes import INCOME_BATCHES
from model.scenario import load_scenario


@pytest.fixture(scope="module")
def ruyuan():
    return load_scenario("ruyuan")


def test_every_income_batch_quota_is_checked(ruyuan):
    checks = quota_check.check(ruyuan)
    quotas = {(b, int(y)) for b, table in ruyuan.targets["batch_quota"].items()
              if b in INCOME_BATCHES for y in table}
    assert {(c.batch, c.year) for c in checks} == quotas
    for c in checks:
        assert c.quota == pytest.approx(ruyuan.targets["batch_quota"][c.batch][c.year]
                                        * ruyuan.scale)
        assert c.given >= 0 and c.needed >= 0 and c.matched > 0


def test_a_weaker_programme_cannot_deliver_and_the_report_says_why(ruyuan):
    production = [c for c in quota_check.check(ruyuan) if c.batch == "production"]
    assert production and any(c.needed > 0 for c in production)
    # every production programme with almost no income effect
    weak = {"industry.gain": 1.0, "transfer_employment.net_share": 0.0001,
            "public_jobs.wage": 1.0, "asset_income.dividend": 1.0, "photovoltaic.income": 1.0}
    short = dataclasses.replace(ruyuan, params=ruyuan.params.with_overlay(weak, "test"))
    after = [c for c in quota_check.check(short) if c.batch == "production"]
    assert all(a.given < b.given for a, b in zip(after, production))
    missed = [c for c in after if not c.deliverable]
    assert missed
    text = "\n".join(quota_check.lines(after, "ruyuan"))
    assert f"ruyuan: production {missed[0].year}" in text and "short of the exit threshold" in text


def test_later_quotas_start_further_from_the_threshold(ruyuan):
    """Quotas are taken closest first, so the needed gain never falls from one
    year's quota to the next of the same batch (incomes grow, but so does
    the line; Ruyuan's line is flat, so growth alone could lower it: compare
    with the growth switched off)."""
    flat = dataclasses.replace(ruyuan, params=ruyuan.params.with_overlay(
        {"market_income_growth": 0.0}, "test"))
    production = [c for c in quota_check.check(flat) if c.batch == "production"]
    needed = [c.needed for c in production]
    assert needed == sorted(needed)


def test_a_plan_without_income_quotas_has_nothing_to_check():
    assert quota_check.check(load_scenario("national")) == []
