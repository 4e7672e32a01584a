"""Charts of a comparison (:func:`model.analysis.compare.compare`), for reports.

Four charts, each written as PNG and SVG (matplotlib ``Figure`` without
pyplot: headless, no global state):

``registered_poor``  registered poor people by year per scenario: median
                     line, 10-90 % band across seeds, the plan's remaining
                     count, interim targets and zero deadlines;
``exits_by_batch``   exits by batch (五个一批) per year, stacked: exclusive
                     attribution, overlapping reach, and the plan's quotas;
``county_exits``     poor county x year: share of seeds in which the county
                     has exited (摘帽) by the end of the year, counties sorted
                     by median exit year, one panel per scenario;
``cost_exits``       programme cost against exits, one point per seed.

Written for a report: each chart has a title and a caption for a reader
(scenarios, seeds and the statistic, scale, parameters' calibration, code
version and date: :func:`caption`); scenarios are shown by their ``label``;
a figure is at most :data:`FIG_WIDTH` inches wide with text of at least
:data:`MIN_TEXT` pt, so printed across an A4 page its text stays readable;
counts of a sample run are scaled up to the full registry (divided by the
scale, which the caption states). ``county_exits`` is not drawn when no
scenario has a poor county.

Labels are English, or Chinese (``lang="zh"``) when a CJK font is installed
(:func:`find_cjk_font`); :func:`chart_language` falls back to English and
says why. SVG text stays text (``svg.fonttype = none``), so it can be edited
and searched.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import xarray as xr
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

from model import __version__
from model.analysis.compare import Target, full_size
from model.analysis.outcomes import exited_by
from model.engine.codes import ATTRIBUTION

CHARTS = ("registered_poor", "exits_by_batch", "county_exits", "cost_exits")
FORMATS = ("png", "svg")
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Sans SC",
             "Source Han Sans SC", "Source Han Sans CN", "Source Han Sans",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei",
             "PingFang SC", "Heiti SC", "Noto Serif CJK SC", "AR PL UMing CN", "AR PL UKai CN",
             "Droid Sans Fallback")
FONT_PACKAGE = "fonts-noto-cjk"
BATCH_COLOURS = {"production": "#2a9d8f", "relocation": "#e76f51", "ecological": "#8ab17d",
                 "education": "#457b9d", "safety_net": "#9c6b98", "none": "#b8b8b8"}
MAX_COUNTY_NAMES = 40   # above this, county rows are not labelled one by one
A4_WIDTH = 8.27         # inches
FIG_WIDTH = 6.8         # inches: every chart, so that it fits an A4 page at 100 % or more
MIN_TEXT = 8.0          # pt: the smallest text of a chart
STYLE = {"font.size": 8.5, "axes.titlesize": 9, "axes.labelsize": 8.5, "xtick.labelsize": 8,
         "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 10.5,
         "svg.fonttype": "none", "svg.hashsalt": "povsim", "axes.unicode_minus": False}

TEXT = {
    "en": {
        "year": "year (state at year end)",
        "registered": "registered poor people",
        "registered_title": "Registered poor by year",
        "median": "median of {n} seeds", "one_seed": "one seed", "band": "10-90 % of seeds",
        "plan": "plan (exits by year)",
        "interim": "interim target (at most)", "zero_by": "zero by the deadline",
        "deadline": "deadline {year}",
        "batch_title": "Exits by pathway (the five batches) against the plan's quotas",
        "persons": "persons (mean over seeds)",
        "exclusive": "exits, exclusive (solid)", "reached": "exits reached (light, overlapping)",
        "quota": "plan quotas (hatched)",
        "county_title": "Poor counties exited by the end of each year",
        "county_rows": "{n} poor counties, sorted by median exit year",
        "county_share": "share of seeds exited",
        "no_counties": "no poor counties", "without": "No poor counties in {names}",
        "planned_share": "plan: counties above the line exited",
        "exit_by": "all exited by {year}",
        "cost_title": "Programme cost against exits (one point per seed)",
        "exits": "people exiting, all years", "cost": "programme cost, {unit}",
        "cost_unit": (1e6, "million yuan"),
        "seeds": "{n} seeds ({first}-{last})", "same": ", the same for every scenario",
        "seed": "one seed ({first}): no spread across seeds is shown",
        "scale": "Scale {scale:g}: that share of the households was simulated; counts are "
                 "scaled up to the full registry.",
        "calibrated": "Parameters: calibrated ({fits}).",
        "uncalibrated": "Parameters: declared defaults (no calibration fit).",
        "drawn": "Seed i ran with the fit's accepted parameter vector i mod {n}: the band "
                 "holds the parameters' uncertainty as well as the seeds'.",
        "made": "povsim {version}, {date}.",
        "panels_share": "Panels of a similar size share their y axis.",
        "per_exit": "{name}: {value} yuan per exit",
        "persons_unit": "persons",
        "batches": {"production": "production", "relocation": "relocation",
                    "ecological": "ecological", "education": "education",
                    "safety_net": "safety net", "none": "own income (none)"},
    },
    "zh": {
        "year": "年份（年末状态）",
        "registered": "建档立卡贫困人口（人）",
        "registered_title": "建档立卡贫困人口（按年）",
        "median": "{n}个随机种子的中位数", "one_seed": "单个随机种子",
        "band": "10%-90% 随机种子区间", "plan": "计划（按年脱贫人数）",
        "interim": "阶段目标（上限）", "zero_by": "期限内清零",
        "deadline": "{year}年期限",
        "batch_title": "“五个一批”脱贫人数与计划任务",
        "persons": "人（各种子平均）",
        "exclusive": "脱贫人数，单一归因（实心）", "reached": "覆盖的脱贫人数（浅色，可重叠）",
        "quota": "计划任务（斜线）",
        "county_title": "贫困县摘帽（至各年末）",
        "county_rows": "{n}个贫困县，按摘帽年份中位数排序",
        "county_share": "已摘帽种子比例",
        "no_counties": "无贫困县", "without": "无贫困县：{names}",
        "planned_share": "计划：线以上的县已摘帽",
        "exit_by": "{year}年全部摘帽",
        "cost_title": "项目成本与脱贫人数（每点为一个随机种子）",
        "exits": "脱贫人数（各年合计）", "cost": "项目成本（{unit}）",
        "cost_unit": (1e4, "万元"),
        "seeds": "{n}个随机种子（{first}-{last}）", "same": "，各情景相同",
        "seed": "单个随机种子（{first}），不显示种子间差异",
        "scale": "模拟规模 {scale:g}：按此比例抽取农户模拟，人数已按全部建档立卡户放大。",
        "calibrated": "参数：已校准（{fits}）。",
        "uncalibrated": "参数：声明的默认值（未校准）。",
        "drawn": "第 i 个随机种子使用校准的第 i mod {n} 组可接受参数：区间同时反映参数与随机种子的不确定性。",
        "made": "povsim {version}，{date}。",
        "panels_share": "规模相近的分图共用纵轴。",
        "per_exit": "{name}：每脱贫一人 {value} 元",
        "persons_unit": "人",
        "batches": {"production": "发展生产", "relocation": "易地搬迁", "ecological": "生态补偿",
                    "education": "发展教育", "safety_net": "社会保障兜底",
                    "none": "自身收入"},
    },
}


# ---------------------------------------------------------------- fonts

def _font_families() -> set[str]:
    """The font families this process's matplotlib knows."""
    return {f.name for f in font_manager.fontManager.ttflist}


def _installed_cjk() -> str | None:
    names = _font_families()
    for family in CJK_FONTS:
        if family in names:
            return family
    return next((n for n in sorted(names) if "CJK" in n), None)


def _add_bundled_font() -> bool:
    """Register the Noto Sans CJK collection that comes with povsim (the
    ``noto-cjk-sans-otc`` dependency) with matplotlib; False if it is missing."""
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return False
    font_manager.fontManager.addfont(str(FONT_PATH))
    return True


def find_cjk_font() -> str | None:
    """Name of a font family with Chinese glyphs, or None.

    Looks for the families of :data:`CJK_FONTS` in matplotlib's font list,
    then for any family whose name says CJK; when there is none, registers
    the bundled Noto Sans CJK (Simplified Chinese first) and looks again.
    """
    return _installed_cjk() or (_installed_cjk() if _add_bundled_font() else None)


def chart_language(lang: str) -> tuple[str, str | None, str | None]:
    """The language the charts can use.

    Parameters
    ----------
    lang : {"en", "zh"}
        The language asked for.

    Returns
    -------
    (lang, font, warning)
        ``("zh", family, None)`` when a CJK font is installed;
        ``("en", None, message)`` when Chinese was asked for without one;
        ``("en", None, None)`` for English.
    """
    if lang not in TEXT:
        raise ValueError(f"lang {lang!r}: expected one of {', '.join(TEXT)}")
    if lang == "en":
        return "en", None, None
    font = find_cjk_font()
    if font is None:
        return "en", None, ("no CJK font found for Chinese chart labels (reinstall povsim, "
                            "whose dependency noto-cjk-sans-otc brings one, or install e.g. the "
                            f"Debian package {FONT_PACKAGE}); the charts use English labels")
    return lang, font, None


# ---------------------------------------------------------------- for a reader

@contextmanager
def style(font: str | None = None):
    """matplotlib settings of every chart (:data:`STYLE`), with ``font`` for
    Chinese labels (DejaVu Sans fills in Latin glyphs).

    ``font`` may have been found in another process (:func:`chart_language`
    before ``povsim run`` draws in its helper process): a family this
    process's matplotlib does not know is looked for again, registering the
    bundled font as :func:`find_cjk_font` does."""
    rc = dict(STYLE)
    if font:
        if font not in _font_families():
            _add_bundled_font()
        rc["font.family"] = [font, "DejaVu Sans"]
    with matplotlib.rc_context(rc):
        yield


def _json(cmp: xr.Dataset, var: str, name: str, default):
    if var not in cmp:
        return default
    text = str(cmp[var].sel(scenario=name).values)
    return json.loads(text) if text.strip() else default


def label_of(cmp: xr.Dataset, name: str, lang: str = "en") -> str:
    """A scenario's label in ``lang`` (the file's ``label``), else its name."""
    label = _json(cmp, "scenario_label", name, {})
    label = {"en": label} if isinstance(label, str) else label
    return label.get(lang) or label.get("en") or name


def scale_of(cmp: xr.Dataset, name: str) -> float:
    return float(cmp["scenario_scale"].sel(scenario=name)) if "scenario_scale" in cmp else 1.0


def caption(cmp: xr.Dataset, lang: str = "en", date: dt.date | None = None) -> str:
    """What a reader of a chart needs besides its title: the seeds, the scale
    of sample runs, whether the parameters are calibrated, code version and date."""
    t = TEXT[lang]
    names = _names(cmp)
    seeds = [int(x) for x in cmp["seed"].values]
    same = t["same"] if len(seeds) > 1 and len(names) > 1 else ""
    parts = [(t["seeds"] if len(seeds) > 1 else t["seed"]).format(
        n=len(seeds), first=seeds[0], last=seeds[-1]) + same + ("." if lang == "en" else "。")]
    for scale in sorted({scale_of(cmp, n) for n in names}):
        if scale < 1:
            group = [label_of(cmp, n, lang) for n in names if scale_of(cmp, n) == scale]
            parts.append(t["scale"].format(scale=scale)
                         + (f" ({', '.join(group)})" if len(group) < len(names) else ""))
    fits = sorted({f for n in names for f in _json(cmp, "scenario_extends", n, [])
                   if "calibration/fits/" in f.replace("\\", "/")})
    parts.append(t["calibrated"].format(fits=", ".join(fits)) if fits else t["uncalibrated"])
    draws = max((int(cmp["scenario_parameter_draws"].sel(scenario=n))
                 for n in names), default=0) if "scenario_parameter_draws" in cmp else 0
    if draws:
        parts.append(t["drawn"].format(n=draws))
    parts.append(t["made"].format(version=__version__,
                                  date=(date or dt.date.today()).isoformat()))
    return " ".join(parts)


def _canvas(cmp: xr.Dataset, lang: str, height: float, title: str, note: str = "",
            ) -> tuple[Figure, matplotlib.figure.SubFigure]:
    """A chart's figure, :data:`FIG_WIDTH` wide: the panel to draw in
    (``height`` inches, with ``title`` on top) above the caption."""
    text = caption(cmp, lang) + (" " + note if note else "")
    per_char = MIN_TEXT * (1.0 if lang == "zh" else 0.52)      # pt, a rough average
    lines = textwrap.wrap(text, int(FIG_WIDTH * 72 * 0.97 / per_char))
    below = len(lines) * MIN_TEXT * 1.35 / 72 + 0.12
    fig = Figure(figsize=(FIG_WIDTH, height + below), dpi=150, layout="constrained")
    panel, foot = fig.subfigures(2, 1, height_ratios=[height, below])
    # the bundled CJK font has one weight
    panel.suptitle(title, fontweight="normal" if lang == "zh" else "bold")
    foot.text(0.01, 0.95, "\n".join(lines), ha="left", va="top", fontsize=MIN_TEXT,
              color="0.25", linespacing=1.3)
    return fig, panel


# ---------------------------------------------------------------- helpers

def _thousands(x, _pos=None) -> str:
    return f"{x:,.0f}" if abs(x) >= 1 or x == 0 else f"{x:,.2g}"


def _years_axis(ax, years, narrow: bool = False) -> None:
    """A tick per year; in a narrow panel with many years, a label every other year."""
    every = 2 if narrow and len(years) > 6 else 1
    ax.set_xticks(list(years))
    ax.set_xticklabels([str(int(y)) if (int(y) - int(years[-1])) % every == 0 else ""
                        for y in years])


def _scenario_years(cmp: xr.Dataset, name: str) -> np.ndarray:
    """The years this scenario simulates (the union may be longer)."""
    registered = cmp["registered_people_total"].sel(scenario=name).isel(seed=0)
    return cmp["year"].values[~np.isnan(registered.values)]


def _names(cmp: xr.Dataset) -> list[str]:
    return [str(s) for s in cmp["scenario"].values]


def _targets(cmp: xr.Dataset, name: str, kind: str) -> list[tuple[Target, float]]:
    """(target, planned value) of one kind that the scenario states."""
    out = []
    plan = cmp[["target_in_plan", "target_planned"]].sel(scenario=name)  # not every variable
    for label in cmp["target"].values:
        target = Target.from_label(label)
        c = plan.sel(target=label)
        if target.kind == kind and float(c["target_in_plan"]) == 1:
            out.append((target, float(c["target_planned"])))
    return out


def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n == 1 else 2 if n <= 4 else 3
    return (n + cols - 1) // cols, cols


# ---------------------------------------------------------------- registered poor

def registered_poor(cmp: xr.Dataset, lang: str = "en") -> Figure:
    """Fan chart of registered poor people by year, one colour per scenario.

    Scenarios of a similar size share a panel; one whose base-year count is
    more than four times another's gets its own (one axis would flatten the
    smaller one).
    """
    cmp = full_size(cmp)
    t = TEXT[lang]
    names = _names(cmp)
    groups = _size_groups(cmp, names)
    rows, cols = _grid(len(groups))
    title = t["registered_title"] + (f": {label_of(cmp, names[0], lang)}" if len(names) == 1
                                     else "")
    fig, panel = _canvas(cmp, lang, 2.6 * rows + 1.4, title)
    axes = panel.subplots(rows, cols, squeeze=False).ravel()
    styles: set[str] = set()
    for ax, group in zip(axes, groups):
        deadlines: set[int] = set()
        # one plan for the whole panel (variants of one plan): draw it once, in grey
        shared = len(group) > 1 and len({_plan_key(cmp, n) for n in group}) == 1
        for name in group:
            colour = _colour(names, name)
            styles |= _fan(ax, cmp, name, colour)
            if not shared or name == group[0]:
                styles |= _plan(ax, cmp, name, "0.3" if shared else colour)
            deadlines |= {tg.year for tg, _ in _targets(cmp, name, "zero_by")}
        for k, year in enumerate(sorted(deadlines)):     # staggered: adjacent years
            ax.axvline(year, color="0.35", lw=0.9, ls=":", zorder=0)
            ax.annotate(t["deadline"].format(year=year), (year, 1),
                        xycoords=("data", "axes fraction"), xytext=(3, -3 - 11 * k),
                        textcoords="offset points", va="top", fontsize=MIN_TEXT, color="0.3")
        years = np.unique(np.concatenate([_scenario_years(cmp, n) for n in group]))
        _years_axis(ax, years, narrow=cols > 1)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.grid(alpha=0.3)
        ax.set_xlabel(t["year"])
        ax.set_ylabel(t["registered"])
        if len(names) > 1:
            ax.set_title(", ".join(label_of(cmp, n, lang) for n in group))
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=_colour(names, n), lw=2.5, label=label_of(cmp, n, lang))
               for n in names] if len(names) > 1 else []
    grey = "0.3"
    n_seeds = cmp.sizes["seed"]
    keys = {"median": Line2D([], [], color=grey, marker="o", ms=4, lw=1.8),
            "band": Patch(color=grey, alpha=0.22),
            "plan": Line2D([], [], color=grey, ls="--", lw=1.1),
            "interim": Line2D([], [], color=grey, marker="v", ms=8, mfc="white", ls="none"),
            "zero_by": Line2D([], [], color=grey, marker="*", ms=11, mec="black", mew=0.5,
                              ls="none")}
    for key, handle in keys.items():
        if key in styles:
            text = t[key] if key != "median" or n_seeds > 1 else t["one_seed"]
            handle.set_label(text.format(n=n_seeds))
            handles.append(handle)
    panel.legend(handles=handles, loc="outside lower center", frameon=False,
                 ncols=min(len(handles), 3))
    return fig


def _colour(names: list[str], name: str) -> str:
    return f"C{names.index(name) % 10}"


def _size_groups(cmp: xr.Dataset, names: list[str]) -> list[list[str]]:
    """Scenarios grouped so that base-year counts within a group differ by at
    most a factor of four (largest first)."""
    start = {n: float(cmp["registered_people_total"].sel(scenario=n)
                      .sel(year=_scenario_years(cmp, n)[0]).max()) for n in names}
    groups: list[list[str]] = []
    for name in sorted(names, key=lambda n: -start[n]):
        if groups and start[groups[-1][0]] <= 4 * max(start[name], 1):
            groups[-1].append(name)
        else:
            groups.append([name])
    return sorted((sorted(g, key=names.index) for g in groups),
                  key=lambda g: names.index(g[0]))


def _fan(ax, cmp: xr.Dataset, name: str, colour: str) -> set[str]:
    """One scenario's median line and 10-90 % band on ``ax``; returns the
    kinds of marks drawn."""
    c = cmp.sel(scenario=name)
    years = _scenario_years(cmp, name)
    reg = c["registered_people_total"].sel(year=years)
    drawn = {"median"}
    if c.sizes["seed"] > 1:
        ax.fill_between(years, reg.quantile(0.1, "seed"), reg.quantile(0.9, "seed"),
                        color=colour, alpha=0.22, lw=0)
        drawn.add("band")
    ax.plot(years, reg.median("seed"), "o-", color=colour, ms=4, lw=1.8)
    return drawn


def _plan_key(cmp: xr.Dataset, name: str) -> tuple:
    """What the fan chart shows of a scenario's plan: the targets it draws
    and the scale."""
    targets = json.loads(str(cmp["scenario_targets"].sel(scenario=name).values) or "{}")
    drawn = {k: targets.get(k) for k in ("zero_by", "exits_people", "registered_max",
                                         "incidence_max")}
    return (json.dumps(drawn, sort_keys=True), float(cmp["scenario_scale"].sel(scenario=name)))


def _plan(ax, cmp: xr.Dataset, name: str, colour: str) -> set[str]:
    """A scenario's plan on ``ax``: remaining count, interim targets and the
    zero deadline; returns the kinds of marks drawn."""
    c = cmp.sel(scenario=name)
    drawn = set()
    if "plan_remaining_people" in c and not np.all(np.isnan(c["plan_remaining_people"])):
        years = _scenario_years(cmp, name)
        ax.plot(years, c["plan_remaining_people"].sel(year=years), "--", color=colour,
                lw=1.1, alpha=0.8)
        drawn.add("plan")
    interim = [(tg.year, v) for tg, v in _targets(cmp, name, "registered_max")]
    population = float(c["rural_population"].sum())
    interim += [(tg.year, v * population) for tg, v in _targets(cmp, name, "incidence_max")]
    if interim:
        x, y = zip(*interim)
        ax.scatter(x, y, marker="v", s=60, facecolor="white", edgecolor=colour, lw=1.5,
                   zorder=4)
        drawn.add("interim")
    zero = [tg.year for tg, _ in _targets(cmp, name, "zero_by")]
    if zero:
        ax.scatter(zero, [0] * len(zero), marker="*", s=140, color=colour, edgecolor="black",
                   lw=0.5, zorder=5, clip_on=False)
        drawn.add("zero_by")
    return drawn


# ---------------------------------------------------------------- exits by batch

def exits_by_batch(cmp: xr.Dataset, lang: str = "en") -> Figure:
    """Per scenario and year, bars stacked by batch (mean over seeds):
    exclusive exits (each counted once), the exits each batch's programmes
    reached (overlapping) and, when a plan states them, the quotas. Panels
    of scenarios of a similar size (:func:`_size_groups`) share their y axis."""
    cmp = full_size(cmp)
    t = TEXT[lang]
    names = _names(cmp)
    cols = 1 if len(names) == 1 else 2
    rows = (len(names) + cols - 1) // cols
    fig, panel = _canvas(cmp, lang, 2.3 * rows + 1.6, t["batch_title"],
                         t["panels_share"] if len(names) > 1 else "")
    axes = panel.subplots(rows, cols, squeeze=False).ravel()
    tops: dict[str, float] = {}
    any_quota = not np.all(np.isnan(cmp["quota_by_batch"]))
    slots = 3 if any_quota else 2              # bars per year: exclusive, reached (, quota)
    width = 0.8 / slots
    for ax, name in zip(axes, names):
        c = cmp.sel(scenario=name)
        years = _scenario_years(cmp, name)[1:]        # the base year has no exits
        exclusive = c["exits_by_batch"].sel(year=years).mean("seed")
        reached = c["reached_by_batch"].sel(year=years).mean("seed")
        quota = c["quota_by_batch"].sel(year=years)
        has_quota = not np.all(np.isnan(quota))
        bottoms = np.zeros((3, len(years)))
        for batch in ATTRIBUTION:
            colour = BATCH_COLOURS[batch]
            values = [exclusive.sel(batch=batch).values, reached.sel(batch=batch).values,
                      quota.sel(batch=batch).values]
            styles = [{"color": colour}, {"color": colour, "alpha": 0.45},
                      {"facecolor": "none", "edgecolor": colour, "hatch": "////", "lw": 0.8}]
            for k, (v, style) in enumerate(zip(values, styles)):
                if k == 2 and not has_quota:
                    continue
                v = np.nan_to_num(v)
                show = v > 0   # a zero-height bar would pin the axis top (sticky edge)
                ax.bar((years + (k - (slots - 1) / 2) * width)[show], v[show], width * 0.95,
                       bottom=bottoms[k][show], **style)
                bottoms[k] += v
        tops[name] = float(bottoms.max()) if bottoms.size else 0.0
        _years_axis(ax, years, narrow=cols > 1)
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_ylabel(t["persons"])
        ax.set_title(label_of(cmp, name, lang))
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for group in _size_groups(cmp, names):    # comparable panels share their y axis
        top = max(tops[n] for n in group) * 1.05 or 1.0
        for n in group:
            axes[names.index(n)].set_ylim(0, top)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    batches = [Patch(color=BATCH_COLOURS[b], label=t["batches"][b]) for b in ATTRIBUTION]
    kinds = [Patch(color="0.35", label=t["exclusive"]),
             Patch(color="0.35", alpha=0.45, label=t["reached"])]
    if any_quota:
        kinds.append(Patch(facecolor="none", edgecolor="0.35", hatch="////", label=t["quota"]))
    panel.legend(handles=batches + kinds, loc="outside lower center", ncols=3, frameon=False)
    return fig


# ---------------------------------------------------------------- county grid

def county_exit_shares(cmp: xr.Dataset, name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One scenario's poor counties, sorted, and their exit shares.

    Returns
    -------
    counties : list of str
        Poor counties sorted by median exit year (not exited: last), then
        by mean exit share (higher first), then name.
    years : int array
        The scenario's years after the base year.
    share : float array (counties, years)
        Share of seeds in which the county has exited by the end of the year.
    """
    c = cmp.sel(scenario=name)
    years = _scenario_years(cmp, name)[1:]
    poor = c["poor_county"].values == 1 if "poor_county" in c else \
        ~np.isnan(c["rural_population"].values)
    counties = [str(x) for x in c["county"].values[poor]]
    exit_year = c["county_exit_year"].sel(county=counties).transpose("county", "seed").values
    exited = exited_by(exit_year[:, :, None], years[None, None, :])
    share = exited.mean(axis=1)
    median = np.quantile(np.where(exit_year > 0, exit_year, np.inf), 0.5, axis=1,
                         method="inverted_cdf") if len(counties) else np.array([])
    order = sorted(range(len(counties)),
                   key=lambda i: (median[i], -share[i].mean(), counties[i]))
    return [counties[i] for i in order], years, share[order]


def county_exits(cmp: xr.Dataset, lang: str = "en") -> Figure:
    """Poor county x year grid of exit shares, one panel per scenario, with
    the plan's cumulative county share and ``counties_exit_by`` marked."""
    t = TEXT[lang]
    data = {n: county_exit_shares(cmp, n) for n in _names(cmp)}
    names = [n for n in data if data[n][0]]          # scenarios with poor counties
    none = [n for n in data if not data[n][0]]
    most = max((len(data[n][0]) for n in names), default=0)
    cols = min(max(len(names), 1), 2)
    rows = (max(len(names), 1) + cols - 1) // cols
    row_height = MIN_TEXT * 1.3 / 72                   # inches per named county row
    panel = min(max(2.2, row_height * min(most, MAX_COUNTY_NAMES) + 0.9), 8.0 / rows)
    fits = min(MAX_COUNTY_NAMES, int((panel - 0.9) / row_height))   # names that fit a panel
    note = t["without"].format(names=", ".join(label_of(cmp, n, lang) for n in none)) \
        if names and none else ""
    fig, canvas = _canvas(cmp, lang, panel * rows + 1.3, t["county_title"],
                          note + ("." if note else ""))
    axes = canvas.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[max(len(names), 1):]:
        ax.set_visible(False)
    if not names:
        axes[0].text(0.5, 0.5, t["no_counties"], ha="center", va="center",
                     transform=axes[0].transAxes, color="0.4")
        axes[0].set_axis_off()
    image = None
    for ax, name in zip(axes, names):
        counties, years, share = data[name]
        ax.set_title(label_of(cmp, name, lang))
        n = len(counties)
        image = ax.imshow(share, aspect="auto", cmap="YlGn", vmin=0, vmax=1,
                          interpolation="nearest",
                          extent=(years[0] - 0.5, years[-1] + 0.5, n, 0))
        _years_axis(ax, years, narrow=cols > 1)
        ax.tick_params(axis="x", labelrotation=90 if len(years) > 8 else 0)
        if n <= fits:
            ax.set_yticks(np.arange(n) + 0.5)
            ax.set_yticklabels(counties, fontsize=MIN_TEXT)
        else:
            ax.yaxis.set_major_locator(MaxNLocator(8, integer=True))
            ax.set_ylabel(t["county_rows"].format(n=f"{n:,}"))
        _county_plan(ax, cmp, name, n, t)
        ax.set_xlabel(t["year"])
    if image is not None:
        canvas.colorbar(image, ax=list(axes), label=t["county_share"], shrink=0.8)
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if handles:
        canvas.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 2),
                      frameon=False)
    return fig


def _county_plan(ax, cmp, name, n, t) -> None:
    """The plan's cumulative share of counties (a step line: rows above it
    should have exited) and the all-exited year."""
    schedule = dict(sorted((tg.year, v) for tg, v in _targets(cmp, name, "counties_exit_share")))
    if schedule:
        x, y, share = [], [], 0.0
        for year in range(min(schedule), max(schedule) + 1):
            share = schedule.get(year, share)     # cumulative: holds between planned years
            x += [year - 0.5, year + 0.5]
            y += [share * n, share * n]
        ax.plot(x, y, color="#c0392b", lw=2, label=t["planned_share"], clip_on=False,
                zorder=3)
    for tg, _ in _targets(cmp, name, "counties_exit_by"):   # its column should be all green
        ax.add_patch(Rectangle((tg.year - 0.5, 0), 1, n, fill=False, edgecolor="black", lw=1.5,
                               ls="--", clip_on=False, zorder=4,
                               label=t["exit_by"].format(year=tg.year)))


# ---------------------------------------------------------------- cost and exits

def cost_exits(cmp: xr.Dataset, lang: str = "en") -> Figure:
    """Programme cost against people exiting (all years), one point per seed
    and a large marker at each scenario's median. Logarithmic axes when the
    scenarios differ by more than a factor of ten."""
    cmp = full_size(cmp)
    t = TEXT[lang]
    names = _names(cmp)
    fig, panel = _canvas(cmp, lang, 3.8 + 0.2 * len(names), t["cost_title"])
    ax = panel.subplots()
    exits_all, cost_all = [], []
    divisor, unit = money_unit(max(float(np.nanmax(cmp["cost_sum"].sel(scenario=n).values))
                                   for n in names), lang)
    for k, name in enumerate(names):
        c = cmp.sel(scenario=name)
        exits, cost = c["exits_sum"].values, c["cost_sum"].values / divisor
        colour = f"C{k % 10}"
        ax.scatter(exits, cost, s=14, color=colour, alpha=0.5, lw=0)
        per_exit = np.nanmedian(c["cost_per_exit"].values)
        ax.scatter([np.median(exits)], [np.median(cost)], s=90, color=colour,
                   edgecolor="black", lw=0.6, zorder=3,
                   label=t["per_exit"].format(name=label_of(cmp, name, lang),
                                              value=f"{per_exit:,.0f}"))
        exits_all += list(exits)
        cost_all += list(cost)
    positive = [v for v in exits_all if v > 0], [v for v in cost_all if v > 0]
    for axis, values in zip((ax.xaxis, ax.yaxis), positive):
        if values and max(values) > 10 * min(values):
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
            wide = max(values) > 100 * min(values)       # many decades: a label per decade
            axis.set_major_locator(LogLocator(subs=(1,) if wide else (1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.margins(0.12)
    ax.grid(alpha=0.3, which="both")
    ax.set_xlabel(t["exits"])
    ax.set_ylabel(t["cost"].format(unit=unit))
    panel.legend(loc="outside lower center", frameon=False, ncols=1 if len(names) > 2 else 2)
    return fig


def money_unit(largest: float, lang: str = "en") -> tuple[float, str]:
    """(divisor, unit) for sums of money in yuan: million yuan in English;
    万元, or 亿元 from 1 亿 (10^8 yuan) on, in Chinese."""
    if lang == "zh":
        return (1e8, "亿元") if largest >= 1e8 else (1e4, "万元")
    return TEXT["en"]["cost_unit"]


# ---------------------------------------------------------------- writing

def write_charts(cmp: xr.Dataset, path_for: Callable[[str], Path], lang: str = "en",
                 font: str | None = None) -> list[str]:
    """Draw every chart and save it as PNG and SVG.

    Parameters
    ----------
    cmp : xarray.Dataset
        :func:`model.analysis.compare.compare`'s dataset.
    path_for : callable
        File name (e.g. ``registered_poor.png``) -> path to write it to (a
        temporary file of :func:`model.analysis.report.staged`, or a plain path).
    lang : {"en", "zh"}
        Label language; check it first with :func:`chart_language`.
    font : str, optional
        Font family for Chinese labels (DejaVu Sans fills in Latin glyphs).

    Returns
    -------
    list of str
        The file names written, in order (``county_exits`` only when a
        scenario has poor counties).
    """
    draw = {"registered_poor": registered_poor, "exits_by_batch": exits_by_batch,
            "county_exits": county_exits, "cost_exits": cost_exits}
    written = []
    with style(font):
        for name in CHARTS:
            if name == "county_exits" and not any(
                    county_exit_shares(cmp, n)[0] for n in _names(cmp)):
                continue     # no scenario has a poor county: no empty chart
            fig = draw[name](cmp, lang)
            for fmt in FORMATS:
                file = f"{name}.{fmt}"
                fig.savefig(path_for(file), format=fmt, metadata={"Date": None} if fmt == "svg"
                            else None)
                written.append(file)
    return written
