"""Comparison charts: files in PNG and SVG, one and several scenarios,
Chinese labels with and without a CJK font, many counties, number formats."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from matplotlib import font_manager
from test_compare import small_run

from model.analysis import charts, compare

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def two():
    return compare.compare([small_run(name="cheap"),
                            small_run(name="dear", cost_per_exit=2000.0)])


def write(cmp, folder, lang="en", font=None) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # glyphs missing from a stand-in font
        return charts.write_charts(cmp, lambda name: folder / name, lang, font)


@pytest.mark.parametrize("names", [["cheap"], ["cheap", "dear"]], ids=["one", "two"])
def test_every_chart_in_png_and_svg(tmp_path, two, names):
    written = write(two.sel(scenario=names), tmp_path)
    assert written == [f"{c}.{f}" for c in charts.CHARTS for f in charts.FORMATS]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)
    for chart in charts.CHARTS:
        assert (tmp_path / f"{chart}.png").read_bytes()[:8] == PNG
        svg = (tmp_path / f"{chart}.svg").read_text(encoding="utf-8")
        assert "<svg" in svg and svg.rstrip().endswith("</svg>")
    svg = (tmp_path / "cost_exits.svg").read_text(encoding="utf-8")
    for name in names:   # SVG text stays text: scenario names in the legend
        assert name in svg


def test_chinese_labels_with_a_cjk_font(tmp_path, two, monkeypatch):
    monkeypatch.setattr(charts, "find_cjk_font", lambda: "DejaVu Sans")   # stands in
    lang, font, warning = charts.chart_language("zh")
    assert (lang, font, warning) == ("zh", "DejaVu Sans", None)
    write(two, tmp_path, lang, font)
    svg = (tmp_path / "registered_poor.svg").read_text(encoding="utf-8")
    assert "建档立卡贫困人口" in svg and "registered poor people" not in svg
    assert "DejaVu Sans" in svg
    assert "发展生产" in (tmp_path / "exits_by_batch.svg").read_text(encoding="utf-8")
    assert (tmp_path / "county_exits.png").read_bytes()[:8] == PNG


def test_chinese_without_a_cjk_font_falls_back_to_english(tmp_path, two, monkeypatch):
    monkeypatch.setattr(charts, "find_cjk_font", lambda: None)
    lang, font, warning = charts.chart_language("zh")
    assert (lang, font) == ("en", None)
    assert "fonts-noto-cjk" in warning and "English" in warning
    write(two, tmp_path, lang, font)
    svg = (tmp_path / "registered_poor.svg").read_text(encoding="utf-8")
    assert "registered poor people" in svg and "建档立卡" not in svg


def test_cjk_font_lookup(monkeypatch):
    fake = [font_manager.FontEntry(fname="a.ttf", name="DejaVu Sans"),
            font_manager.FontEntry(fname="b.ttc", name="Noto Sans CJK JP")]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fake)
    assert charts.find_cjk_font() == "Noto Sans CJK JP"
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fake[:1])
    assert charts.find_cjk_font() is None
    with pytest.raises(ValueError):
        charts.chart_language("fr")


def test_thousands_separators(two):
    fig = charts.registered_poor(two)
    assert fig.axes[0].yaxis.get_major_formatter()(1234567) == "1,234,567"
    fig = charts.cost_exits(two)
    assert fig.axes[0].xaxis.get_major_formatter()(25000) == "25,000"


def many_counties(n: int = 850) -> xr.Dataset:
    """A comparison with ``n`` poor counties exiting 2016-2018 or never."""
    ds = small_run(targets={"counties_exit_share": {"2016": 0.3, "2017": 0.3},
                            "counties_exit_by": 2018})
    exit_year = np.array([[[2016, 2017, 2018, 0][(i + s) % 4] for i in range(n)]
                          for s in (0, 1)], dtype=np.int32)
    fields = {}
    for name, var in ds.data_vars.items():
        if "county" in var.dims:
            shape = [n if d == "county" else ds.sizes[d] for d in var.dims]
            fields[name] = (var.dims, np.ones(shape, dtype=var.dtype))
    fields["county_exit_year"] = (("seed", "county"), exit_year)
    ds = ds.drop_dims("county").assign_coords(county=[f"c{i:03d}" for i in range(n)])
    return compare.compare([ds.assign(fields).assign(village_county=xr.zeros_like(
        ds["poor_village"], dtype=np.int32))])


def test_county_grid_sorted_and_readable_with_many_counties(tmp_path):
    cmp = many_counties()
    counties, years, share = charts.county_exit_shares(cmp, "small")
    assert len(counties) == 850 and list(years) == [2016, 2017, 2018]
    # sorted by median exit year (the first year by which at least half the
    # seeds have the county exited): it never decreases down the rows
    median = [int(np.argmax(row >= 0.5)) if (row >= 0.5).any() else 99 for row in share]
    assert median == sorted(median) and set(median) == {0, 1, 2}   # the input is interleaved
    assert ((share >= 0) & (share <= 1)).all()
    fig = charts.county_exits(cmp)
    ax = fig.axes[0]
    assert len(ax.get_yticks()) <= 10              # no 850 county names
    assert "850 poor counties" in ax.get_ylabel()
    write(cmp, tmp_path)
    assert (tmp_path / "county_exits.png").stat().st_size > 1000


def test_no_poor_county_says_so(two):
    cmp = two.assign(poor_county=xr.zeros_like(two["poor_county"]))
    fig = charts.county_exits(cmp)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "no poor counties" in texts


def test_a_shared_plan_is_drawn_once_in_grey(two):
    def dashed(cmp):
        return [line for line in charts.registered_poor(cmp).axes[0].get_lines()
                if line.get_linestyle() == "--"]

    shared = dashed(two)                       # cheap and dear: the same plan
    assert len(shared) == 1 and shared[0].get_color() == "0.3"
    other = small_run(name="other", targets={"exits_people": {"2016": 10}})
    assert len(dashed(compare.compare([small_run(name="cheap"), other]))) == 2
