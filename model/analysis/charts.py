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

Labels are English, or Chinese (``lang="zh"``) when a CJK font is installed
(:func:`find_cjk_font`); :func:`chart_language` falls back to English and
says why. SVG text stays text (``svg.fonttype = none``), so it can be edited
and searched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import xarray as xr
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

from model.analysis.compare import Target
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

TEXT = {
    "en": {
        "year": "year (state at year end)",
        "registered": "registered poor people",
        "registered_title": "Registered poor by year",
        "median": "median", "band": "10-90 % of seeds", "plan": "plan (exits by year)",
        "interim": "interim target (at most)", "zero_by": "zero by the deadline",
        "deadline": "deadline {year}",
        "batch_title": "Exits by pathway (the five batches) against the plan's quotas",
        "persons": "persons (mean over seeds)",
        "exclusive": "exits, exclusive (solid)", "reached": "exits reached (light, overlapping)",
        "quota": "plan quotas (hatched)",
        "county_title": "Poor counties exited by the end of each year",
        "county_rows": "{n} poor counties, sorted by median exit year",
        "county_share": "share of seeds exited",
        "no_counties": "no poor counties", "without": "no poor counties in {names}",
        "planned_share": "plan: counties above the line exited",
        "exit_by": "all exited by {year}",
        "cost_title": "Programme cost against exits (one point per seed)",
        "exits": "people exiting, all years", "cost": "programme cost, million yuan",
        "per_exit": "{name}: {value} yuan per exit",
        "batches": {"production": "production", "relocation": "relocation",
                    "ecological": "ecological", "education": "education",
                    "safety_net": "safety net", "none": "own income (none)"},
    },
    "zh": {
        "year": "年份（年末状态）",
        "registered": "建档立卡贫困人口（人）",
        "registered_title": "建档立卡贫困人口（按年）",
        "median": "中位数", "band": "10%-90% 随机种子区间", "plan": "计划（按年脱贫人数）",
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
        "exits": "脱贫人数（各年合计）", "cost": "项目成本（百万元）",
        "per_exit": "{name}：每脱贫一人 {value} 元",
        "batches": {"production": "发展生产", "relocation": "易地搬迁", "ecological": "生态补偿",
                    "education": "发展教育", "safety_net": "社会保障兜底",
                    "none": "自身收入"},
    },
}


# ---------------------------------------------------------------- fonts

def find_cjk_font() -> str | None:
    """Name of an installed font family with Chinese glyphs, or None.

    Looks for the families of :data:`CJK_FONTS` in matplotlib's font list,
    then for any family whose name says CJK.
    """
    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FONTS:
        if family in names:
            return family
    return next((n for n in sorted(names) if "CJK" in n), None)


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
        return "en", None, ("no CJK font found for Chinese chart labels (install one, e.g. the "
                            f"Debian package {FONT_PACKAGE}); the charts use English labels")
    return lang, font, None


# ---------------------------------------------------------------- helpers

def _thousands(x, _pos=None) -> str:
    return f"{x:,.0f}" if abs(x) >= 1 or x == 0 else f"{x:,.2g}"


def _years_axis(ax, years) -> None:
    ax.set_xticks(list(years))
    ax.set_xticklabels([str(int(y)) for y in years])


def _scenario_years(cmp: xr.Dataset, name: str) -> np.ndarray:
    """The years this scenario simulates (the union may be longer)."""
    registered = cmp["registered_people_total"].sel(scenario=name).isel(seed=0)
    return cmp["year"].values[~np.isnan(registered.values)]


def _names(cmp: xr.Dataset) -> list[str]:
    return [str(s) for s in cmp["scenario"].values]


def _targets(cmp: xr.Dataset, name: str, kind: str) -> list[tuple[Target, float]]:
    """(target, planned value) of one kind that the scenario states."""
    out = []
    for label in cmp["target"].values:
        target = Target.from_label(label)
        c = cmp.sel(scenario=name, target=label)
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
    t = TEXT[lang]
    names = _names(cmp)
    groups = _size_groups(cmp, names)
    rows, cols = _grid(len(groups))
    fig = Figure(figsize=(5.4 * cols + 2.6, 3.5 * rows + 0.9), dpi=120, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
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
        for year in sorted(deadlines):
            ax.axvline(year, color="0.35", lw=0.9, ls=":", zorder=0)
            ax.annotate(t["deadline"].format(year=year), (year, 1),
                        xycoords=("data", "axes fraction"), xytext=(3, -3),
                        textcoords="offset points", va="top", fontsize=8, color="0.3")
        years = np.unique(np.concatenate([_scenario_years(cmp, n) for n in group]))
        _years_axis(ax, years)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.grid(alpha=0.3)
        ax.set_xlabel(t["year"])
        ax.set_ylabel(t["registered"])
        if len(names) > 1:
            ax.set_title(", ".join(group), fontsize=10)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    fig.suptitle(t["registered_title"] + (f": {names[0]}" if len(names) == 1 else ""))
    handles = [Line2D([], [], color=_colour(names, n), lw=2.5, label=n) for n in names] \
        if len(names) > 1 else []
    grey = "0.3"
    keys = {"median": Line2D([], [], color=grey, marker="o", ms=4, lw=1.8),
            "band": Patch(color=grey, alpha=0.22),
            "plan": Line2D([], [], color=grey, ls="--", lw=1.1),
            "interim": Line2D([], [], color=grey, marker="v", ms=8, mfc="white", ls="none"),
            "zero_by": Line2D([], [], color=grey, marker="*", ms=11, mec="black", mew=0.5,
                              ls="none")}
    for key, handle in keys.items():
        if key in styles:
            handle.set_label(t[key])
            handles.append(handle)
    fig.legend(handles=handles, loc="outside right upper", frameon=False, fontsize=8)
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
    reached (overlapping) and, when a plan states them, the quotas."""
    t = TEXT[lang]
    names = _names(cmp)
    rows, cols = _grid(len(names))
    fig = Figure(figsize=(6.4 * cols + 1.6, 3.6 * rows + 0.8), dpi=120, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
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
        _years_axis(ax, years)
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.set_ylabel(t["persons"])
        ax.set_title(name, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    batches = [Patch(color=BATCH_COLOURS[b], label=t["batches"][b]) for b in ATTRIBUTION]
    kinds = [Patch(color="0.35", label=t["exclusive"]),
             Patch(color="0.35", alpha=0.45, label=t["reached"])]
    if any_quota:
        kinds.append(Patch(facecolor="none", edgecolor="0.35", hatch="////", label=t["quota"]))
    fig.legend(handles=batches + kinds, loc="outside lower center", ncols=3 if cols == 1 else 5,
               frameon=False, fontsize=8)
    fig.suptitle(t["batch_title"])
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
    exited = (exit_year[:, :, None] > 0) & (exit_year[:, :, None] <= years[None, None, :])
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
    named = 0 < most <= MAX_COUNTY_NAMES
    height = 4.2 if not named else min(max(3.0, 0.2 * most + 2.0), 12)
    fig = Figure(figsize=(2.4 + 3.4 * max(len(names), 1) + (1.0 if named else 0), height),
                 dpi=120, layout="constrained")
    axes = fig.subplots(1, max(len(names), 1), squeeze=False).ravel()
    if not names:
        axes[0].text(0.5, 0.5, t["no_counties"], ha="center", va="center",
                     transform=axes[0].transAxes, color="0.4")
        axes[0].set_axis_off()
    image = None
    for ax, name in zip(axes, names):
        counties, years, share = data[name]
        ax.set_title(name, fontsize=10)
        n = len(counties)
        image = ax.imshow(share, aspect="auto", cmap="YlGn", vmin=0, vmax=1,
                          interpolation="nearest",
                          extent=(years[0] - 0.5, years[-1] + 0.5, n, 0))
        _years_axis(ax, years)
        ax.tick_params(axis="x", labelrotation=90 if len(years) > 8 else 0)
        if n <= MAX_COUNTY_NAMES:
            ax.set_yticks(np.arange(n) + 0.5)
            ax.set_yticklabels(counties, fontsize=7 if n > 20 else 8)
        else:
            ax.yaxis.set_major_locator(MaxNLocator(8, integer=True))
            ax.set_ylabel(t["county_rows"].format(n=f"{n:,}"))
        _county_plan(ax, cmp, name, n, t)
        ax.set_xlabel(t["year"])
    if image is not None:
        fig.colorbar(image, ax=list(axes), label=t["county_share"], shrink=0.8)
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels),
                   frameon=False, fontsize=8)
    title = t["county_title"]
    if names and none:
        title += "\n" + t["without"].format(names=", ".join(none))
    fig.suptitle(title)
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
    t = TEXT[lang]
    names = _names(cmp)
    fig = Figure(figsize=(8.6, 4.8), dpi=120, layout="constrained")
    ax = fig.subplots()
    exits_all, cost_all = [], []
    for k, name in enumerate(names):
        c = cmp.sel(scenario=name)
        exits, cost = c["exits_sum"].values, c["cost_sum"].values / 1e6
        colour = f"C{k % 10}"
        ax.scatter(exits, cost, s=14, color=colour, alpha=0.5, lw=0)
        per_exit = np.nanmedian(c["cost_per_exit"].values)
        ax.scatter([np.median(exits)], [np.median(cost)], s=90, color=colour,
                   edgecolor="black", lw=0.6, zorder=3,
                   label=t["per_exit"].format(name=name, value=f"{per_exit:,.0f}"))
        exits_all += list(exits)
        cost_all += list(cost)
    positive = [v for v in exits_all if v > 0], [v for v in cost_all if v > 0]
    for axis, values in zip((ax.xaxis, ax.yaxis), positive):
        if values and max(values) > 10 * min(values):
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")
            axis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.margins(0.12)
    ax.grid(alpha=0.3, which="both")
    ax.set_xlabel(t["exits"])
    ax.set_ylabel(t["cost"])
    ax.set_title(t["cost_title"])
    fig.legend(loc="outside right upper", frameon=False, fontsize=8)
    return fig


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
        The file names written, in order.
    """
    rc = {"svg.fonttype": "none", "svg.hashsalt": "povsim", "axes.unicode_minus": False}
    if font:
        rc["font.family"] = [font, "DejaVu Sans"]
    draw = {"registered_poor": registered_poor, "exits_by_batch": exits_by_batch,
            "county_exits": county_exits, "cost_exits": cost_exits}
    written = []
    with matplotlib.rc_context(rc):
        for name in CHARTS:
            fig = draw[name](cmp, lang)
            for fmt in FORMATS:
                file = f"{name}.{fmt}"
                fig.savefig(path_for(file), format=fmt, metadata={"Date": None} if fmt == "svg"
                            else None)
                written.append(file)
    return written
