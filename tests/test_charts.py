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
    assert "noto-cjk-sans-otc" in warning and "English" in warning
    write(two, tmp_path, lang, font)
    svg = (tmp_path / "registered_poor.svg").read_text(encoding="utf-8")
    assert "registered poor people" in svg and "建档立卡" not in svg


def test_cjk_font_lookup(monkeypatch):
    fake = [font_manager.FontEntry(fname="a.ttf", name="DejaVu Sans"),
            font_manager.FontEntry(fname="b.ttc", name="Noto Sans CJK JP")]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fake)
    assert charts.find_cjk_font() == "Noto Sans CJK JP"
    monkeypatch.setattr(font_manager.fontManager, "ttflist", fake[:1])
    monkeypatch.setattr(charts, "_add_bundled_font", lambda: False)
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


def test_no_poor_county_no_empty_chart(two, tmp_path):
    cmp = two.assign(poor_county=xr.zeros_like(two["poor_county"]))
    written = write(cmp, tmp_path)
    assert "county_exits.png" not in written and not (tmp_path / "county_exits.png").exists()
    assert "registered_poor.png" in written
    one = two.assign(poor_county=xr.concat([two["poor_county"].sel(scenario="cheap"),
                                            0 * two["poor_county"].sel(scenario="dear")],
                                           "scenario"))
    fig = charts.county_exits(one)                 # one panel, and the other named below
    assert "No poor counties in dear" in _texts(fig)


# ---------------------------------------------------------------- for a reader

def _texts(fig) -> str:
    from matplotlib.text import Text
    return " ".join(" ".join(t.get_text().split()) for t in fig.findobj(Text) if t.get_visible())


def _draw_all(cmp, lang="en"):
    return {name: getattr(charts, name)(cmp, lang) for name in charts.CHARTS}


@pytest.mark.parametrize("names", [["cheap"], ["cheap", "dear"]], ids=["one", "two"])
def test_text_is_readable_on_a4(two, names):
    """At most A4 wide, no text under 8 pt: printed across an A4 page, all
    text stays at least 8 pt."""
    from matplotlib.text import Text

    with charts.style():
        for name, fig in _draw_all(two.sel(scenario=names)).items():
            fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
            assert fig.get_figwidth() <= charts.A4_WIDTH, name
            sizes = [t.get_fontsize() for t in fig.findobj(Text)
                     if t.get_visible() and t.get_text().strip()]
            assert sizes and min(sizes) >= charts.MIN_TEXT, (name, min(sizes))


def test_title_and_caption_for_a_reader(two):
    import datetime as dt

    from model import __version__

    text = charts.caption(two, "en", dt.date(2026, 1, 2))
    assert "2 seeds (0-1), the same for every scenario" in text
    assert "Scale 0.5" in text and "scaled up to the full registry" in text
    assert f"povsim {__version__}, 2026-01-02" in text
    assert "declared defaults" in text           # the hand-built runs extend no fit
    fitted = two.assign(scenario_extends=xr.full_like(
        two["scenario_extends"], '["calibration/fits/national.toml"]'))
    assert "calibrated (calibration/fits/national.toml)" in charts.caption(fitted)
    # a --posterior run says its band holds the parameters' uncertainty too
    assert "accepted parameter vector" not in charts.caption(fitted)
    drawn = fitted.assign(scenario_parameter_draws=xr.DataArray(
        [50.0, 0.0], dims="scenario", coords={"scenario": fitted["scenario"]}))
    assert "accepted parameter vector i mod 50" in charts.caption(drawn)
    for name, fig in _draw_all(two).items():
        everything = _texts(fig)
        assert "Scale 0.5" in everything and f"povsim {__version__}" in everything, name
        assert not any(t.endswith(".png") for t in everything.split()), name
    assert "Registered poor by year" in _texts(charts.registered_poor(two))


def test_labels_from_the_scenario_file(two):
    labelled = two.assign(scenario_label=xr.DataArray(
        np.array(['{"en": "Cheap plan", "zh": "低成本方案"}', ""], dtype=object),
        dims="scenario", coords={"scenario": two["scenario"]}))
    assert charts.label_of(labelled, "cheap") == "Cheap plan"
    assert charts.label_of(labelled, "cheap", "zh") == "低成本方案"
    assert charts.label_of(labelled, "dear") == "dear"
    assert "Cheap plan" in _texts(charts.exits_by_batch(labelled))
    assert "Cheap plan" in _texts(charts.registered_poor(labelled))


def test_legend_matches_the_statistic(two):
    def legend(cmp):
        return [t.get_text() for fig_legend in charts.registered_poor(cmp).legends
                for t in fig_legend.get_texts()] + [
            t.get_text() for sub in charts.registered_poor(cmp).subfigs
            for leg in sub.legends for t in leg.get_texts()]

    assert "median of 2 seeds" in legend(two)
    one = legend(two.isel(seed=[0]))
    assert "one seed" in one and not any("median" in t for t in one)


def test_counts_scaled_up_to_full_size(two):
    """The runs are at scale 0.5: the chart shows twice the simulated count."""
    fig = charts.registered_poor(two.sel(scenario=["cheap"]))
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "o")
    simulated = two["registered_people_total"].sel(scenario="cheap").median("seed")
    years = line.get_xdata()
    np.testing.assert_allclose(line.get_ydata(), simulated.sel(year=years).values * 2)


def test_comparable_panels_share_the_y_axis(two):
    fig = charts.exits_by_batch(two)
    first, second = fig.axes[:2]
    assert first.get_ylim() == second.get_ylim()
    assert "share their y axis" in _texts(fig)


def test_money_in_chinese_units():
    assert charts.money_unit(5e7, "zh") == (1e4, "万元")
    assert charts.money_unit(3e9, "zh") == (1e8, "亿元")
    assert charts.money_unit(3e9, "en") == (1e6, "million yuan")


def test_a_shared_plan_is_drawn_once_in_grey(two):
    def dashed(cmp):
        return [line for line in charts.registered_poor(cmp).axes[0].get_lines()
                if line.get_linestyle() == "--"]

    shared = dashed(two)                       # cheap and dear: the same plan
    assert len(shared) == 1 and shared[0].get_color() == "0.3"
    other = small_run(name="other", targets={"exits_people": {"2016": 10}})
    assert len(dashed(compare.compare([small_run(name="cheap"), other]))) == 2


def test_the_bundled_cjk_font_draws_every_chinese_glyph(two, tmp_path, monkeypatch):
    """On a machine without a CJK font the dependency brings one; no glyph
    falls back to a missing-glyph box (matplotlib's warning is an error here)."""
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name])
    lang, font, warning = charts.chart_language("zh")
    assert (lang, font, warning) == ("zh", "Noto Sans CJK SC", None)
    labelled = two.assign(scenario_label=xr.DataArray(
        np.array(['{"zh": "低成本方案"}', '{"zh": "高成本方案"}'], dtype=object),
        dims="scenario", coords={"scenario": two["scenario"]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # "Glyph ... missing from font(s)" fails
        written = charts.write_charts(labelled, lambda name: tmp_path / name, lang, font)
    assert "registered_poor.png" in written
    assert "低成本方案" in (tmp_path / "registered_poor.svg").read_text(encoding="utf-8")
