"""The comparison report: numbers as text, the Markdown sections and the CSV
table, on the hand-built runs of test_compare."""

import csv
import io

import numpy as np
import pytest
import xarray as xr
from test_compare import small_run

from model.analysis import compare, report


def test_numbers_as_text():
    assert report.fmt_number(1234567) == "1,234,567"
    assert report.fmt_share(0.25) == "25 %"


def test_zero_year_summary_counts_never_as_later():
    # the median is the first year by which at least half the seeds reached zero
    assert report.zero_year_text([2018, np.nan], 2020) == "2018 (2018 to not by 2020)"
    assert report.zero_year_text([2018, np.nan, np.nan], 2020) == \
        "not by 2020 (2018 to not by 2020)"
    assert report.zero_year_text([2018, 2018, 2019], 2020) == "2018 (2018 to 2019)"
    assert report.zero_year_text([np.nan] * 3, 2020) == "not by 2020"


def test_jeffreys_interval():
    assert report.jeffreys([1, 0]) == pytest.approx((0.0973, 0.9027), abs=1e-4)
    low, high = report.jeffreys([1] * 20)
    assert high == 1.0 and 0.85 < low < 0.95          # all met: the upper end is 1
    assert report.jeffreys([0] * 20)[0] == 0.0
    assert all(np.isnan(report.jeffreys([np.nan, np.nan])))


# ---------------------------------------------------------------- several scenarios

def test_report_sections_and_csv():
    cmp = compare.compare([small_run(name="cheap"), small_run(name="dear", cost_per_exit=2000)])
    text = report.markdown(cmp)
    for heading in ("## Registered poor reach zero", "## Targets", "## Exits by batch",
                    "## Exits, returns and cost", "## Paired differences against cheap"):
        assert heading in text
    assert "| 2018 (2018 to not by 2018) |" in text    # zero year: seed 1 never
    # exits 2016: P with its 90 % Jeffreys interval, median of (40, 30) simulated at scale
    # 0.5 against the plan's 70 x 0.5: both shown at full size
    assert "50 % [10-90 %] (70 vs 70)" in text
    assert "Warning: 2 seed(s) only: probabilities are rough" in text
    assert "Simulated at scale 0.5 (that share of the households): cheap, dear. Counts and " \
           "cost are scaled up to full size (divided by the scale)" in text
    rows = list(csv.DictReader(io.StringIO(report.csv_text(cmp))))
    assert set(rows[0]) == set(report.CSV_COLUMNS)
    target = [r for r in rows if r["scenario"] == "dear" and r["measure"] == "target exits_people"]
    assert len(target) == 1 and float(target[0]["probability"]) == 0.5
    assert float(target[0]["probability_low"]) == pytest.approx(0.0973, abs=1e-4)
    assert float(target[0]["probability_high"]) == pytest.approx(0.9027, abs=1e-4)
    # numbers in numeric columns, words in `note`
    zero = next(r for r in rows if r["scenario"] == "dear" and r["measure"] == "zero_year")
    assert zero["p90"] == "" and "p90: not by 2018" in zero["note"]
    for r in rows:
        for column in set(report.CSV_COLUMNS) - {"scenario", "measure", "batch", "unit", "note"}:
            if r[column] != "":
                float(r[column])
    people = next(r for r in rows if r["measure"] == "registered_people")
    assert "scaled up to full size from scale 0.5" in people["note"]
    simulated = cmp["registered_people_total"].sel(scenario=people["scenario"],
                                                   year=int(people["year"]))
    assert float(people["mean"]) == pytest.approx(float(simulated.mean()) / 0.5)
    assert float(target[0]["planned"]) == 70              # the plan's own figure
    cost = next(r for r in rows if r["scenario"] == "dear" and r["measure"] == "cost_sum")
    assert float(cost["diff_mean"]) == pytest.approx((100 + 90) * 1000 / 2 / 0.5)
    per_exit = next(r for r in rows if r["scenario"] == "dear" and r["measure"] == "cost_per_exit")
    assert float(per_exit["mean"]) == pytest.approx(float(cmp["cost_per_exit"].sel(
        scenario="dear").mean()))                          # a ratio: not scaled
    # probabilities and shares are as simulated
    assert float(target[0]["probability"]) == 0.5


def test_summary_in_chinese_uses_chinese_words_and_units():
    cmp = compare.compare([small_run(name="cheap"), small_run(name="dear", cost_per_exit=2000)])
    text = report.markdown(cmp, lang="zh")
    for heading in ("# povsim 情景比较：cheap, dear", "## 建档立卡贫困人口清零",
                    "## 目标：实现各目标的概率", "## “五个一批”脱贫人数", "## 脱贫、返贫与成本",
                    "## 与cheap的配对差异"):
        assert heading in text, heading
    assert "按模拟规模 0.5 模拟" in text and "已放大至全部农户" in text
    assert "2018（2018 至 2018年前未清零）" in text.replace(" (", "（").replace(")", "）")
    # exits 2016: 70 people at full size, in 万人 with two decimals
    assert "50 % [10-90 %]（模拟 0.01，计划 0.01）" in text
    assert "| cheap | 易地搬迁 |" in text and "成本（万元）" in text
    english = report.markdown(cmp)
    assert not any(word in text for word in ("Registered poor", "probability", "seeds",
                                             "not by", "million yuan"))
    assert text != english


def test_the_same_comparison_at_scale_one_is_not_changed_by_scaling():
    cmp = compare.compare([small_run(name="cheap", scale=1.0)])
    xr.testing.assert_identical(report.full_size(cmp), cmp)


