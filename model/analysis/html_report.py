"""``povsim report DIR``: one self-contained HTML file of a run, compare,
sweep or back-test output folder.

The page is rendered from ``templates/report.html.j2`` (jinja2, HTML
escaping on): provenance (seeds, scale, calibration fit, code version,
date), a table of results per scenario, the probability of each target with
its Jeffreys interval, the charts (drawn anew in the report's language and
embedded as PNG, so the file needs nothing beside it), each scenario's file
text, the calibration fit's provenance, a back-test's score and any other
chart the folder holds. ``lang="zh"`` writes it in Chinese with Chinese
units (万人, 万元 / 亿元) and Chinese chart labels (the bundled Noto Sans CJK).
:func:`contents` gathers what the page shows; ``povsim report --pdf``
(:mod:`model.analysis.pdf_report`) lays the same out as a PDF.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import tomllib
from pathlib import Path

import numpy as np
import xarray as xr

from model import __version__
from model.analysis import charts, compare, report, report_text
from model.errors import PovsimError

TEXT = {
    "en": {
        "title": "povsim report: {names}", "provenance": "Provenance", "results": "Results",
        "results_note": "Median over seeds with the 10-90 % range in brackets; counts at full "
                        "size (a sample run's counts are divided by its scale).",
        "targets": "Targets", "charts": "Charts", "scenarios": "Scenarios and assumptions",
        "scenario_text": "the scenario file", "calibration": "Calibration fit",
        "summary_md": "The summary as text",
        "targets_note": "Probability of meeting each target: the share of seeds, with its 90 % "
                        "Monte Carlo interval (Jeffreys) in square brackets.",
        "lead": "Household microsimulation of targeted poverty alleviation (精准扶贫): {kind} of "
                "{n} scenario(s), {seeds} seed(s).",
        "few": "Only {n} seed(s): probabilities are rough; 20 or more seeds narrow their "
               "intervals.",
        "generated": "Written by povsim {version} on {date}.",
        "head": ["scenario", "registered at start (persons)", "registered poor reach zero",
                 "exits (persons)", "returns (persons)", "cost ({unit})", "cost per exit (yuan)"],
        "target": "target", "not_by": "not by {year}", "not_simulated": "not simulated",
        "seeds": "seeds", "scale": "scale", "full": "1 (every household)",
        "sample": "{scale:g} of the households; counts shown scaled up", "code": "code version",
        "date": "report date", "fits": "parameters", "no_fit": "declared defaults (no fit)",
        "registry": "registry {registry}, {first}-{last}, scale {scale:g}",
        "kinds": {"run": "a run", "compare": "a comparison"},
        "fit": {"date": "date", "trials": "trials", "distance": "distance", "seeds": "seeds",
                "scale": "scale", "code_version": "code version", "targets": "targets"},
        "backtest": "Back-test",
    },
    "zh": {
        "title": "povsim 报告：{names}", "provenance": "来源与设定", "results": "结果",
        "results_note": "各随机种子的中位数，括号内为 10%-90% 区间；人数按全部农户计（抽样运行的人数"
                        "已除以模拟规模）。",
        "targets": "目标", "charts": "图表", "scenarios": "情景与假设",
        "scenario_text": "情景文件", "calibration": "参数校准",
        "summary_md": "文字摘要", "summary_md_en": "文字摘要（英文）",
        "targets_note": "实现各目标的概率：达到目标的随机种子比例，方括号内为 90% 蒙特卡洛区间"
                        "（Jeffreys）。",
        "lead": "精准扶贫农户微观模拟：{n}个情景的{kind}，{seeds}个随机种子。",
        "few": "仅 {n} 个随机种子：概率较粗略；20 个以上随机种子可缩小区间。",
        "generated": "由 povsim {version} 于 {date} 生成。",
        "head": ["情景", "初始建档立卡人口（万人）", "贫困人口清零年份", "脱贫人数（万人）",
                 "返贫人数（万人）", "成本（{unit}）", "每脱贫一人成本（元）"],
        "target": "目标", "not_by": "{year}年前未清零", "not_simulated": "未模拟",
        "seeds": "随机种子", "scale": "模拟规模", "full": "1（全部农户）",
        "sample": "{scale:g}（抽样），人数已放大至全部农户", "code": "代码版本",
        "date": "报告日期", "fits": "参数", "no_fit": "声明的默认值（未校准）",
        "registry": "建档立卡数据 {registry}，{first}-{last}年，模拟规模 {scale:g}",
        "kinds": {"run": "单次运行", "compare": "比较"},
        "fit": {"date": "日期", "trials": "试验次数", "distance": "距离", "seeds": "随机种子",
                "scale": "模拟规模", "code_version": "代码版本", "targets": "目标文件"},
        "backtest": "回测",
    },
}


def load(folder: Path) -> tuple[xr.Dataset, str]:
    """The comparison dataset of an output folder and its kind ("compare" or "run")."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PovsimError(f"{folder}: not a folder (expected the output folder of povsim run, "
                          "compare, sweep or backtest)")
    if (folder / "compare.nc").is_file():
        return report.read_comparison(folder / "compare.nc"), "compare"
    if (folder / "results.nc").is_file():
        with xr.open_dataset(folder / "results.nc", engine="netcdf4") as ds:
            return compare.compare([ds.load()]), "run"
    raise PovsimError(f"{folder}: no compare.nc or results.nc (expected the output folder of "
                      "povsim run, compare, sweep or backtest)")


def cjk_face_number(path) -> int:
    """Place of Noto Sans CJK SC (simplified Chinese) in the bundled collection."""
    from fontTools.ttLib import TTCollection

    with TTCollection(str(path), lazy=True) as collection:
        names = [f["name"].getDebugName(1) for f in collection.fonts]
    return names.index("Noto Sans CJK SC")


def cjk_font_face(text: str) -> str:
    """The bundled Noto Sans CJK SC cut down to the CJK characters of
    ``text`` (fontTools' subsetter), as base64 OpenType for a CSS
    ``@font-face``; empty when ``text`` has none or the font is missing.

    A report reads in Chinese on a machine without a CJK font, and stays
    small (a few kB per hundred characters instead of 19 MB).
    """
    chars = "".join(sorted({ch for ch in text if ord(ch) >= 0x2E80}))
    if not chars:
        return ""
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return ""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    buffer = io.BytesIO()
    with TTFont(str(FONT_PATH), fontNumber=cjk_face_number(FONT_PATH)) as font:
        subsetter = subset.Subsetter(subset.Options())
        subsetter.populate(text=chars)
        subsetter.subset(font)
        font.save(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _people(x: float, lang: str) -> str:
    if np.isnan(x):
        return "-"
    return f"{x / 1e4:,.2f}" if lang == "zh" else f"{x:,.0f}"


def _spread(values, lang: str, unit: float = 1.0) -> str:
    v = np.asarray(values, dtype=float) / unit
    lo, mid, hi = report.quantiles(v)
    if np.isnan(mid):
        return "-"
    text = (lambda x: _people(x * 1e4, lang)) if lang == "zh" and unit == 1e4 else \
        (lambda x: f"{x:,.0f}" if unit == 1 or abs(x) >= 100 else f"{x:,.2f}")
    return text(mid) if lo == hi else f"{text(mid)} ({text(lo)}-{text(hi)})"


def _zero_text(years, end: int, t: dict) -> str:
    lo, mid, hi = report.year_quantiles(years)

    def one(y):
        return t["not_by"].format(year=end) if np.isinf(y) else str(int(y))
    return one(mid) if lo == hi else f"{one(mid)} ({one(lo)}-{one(hi)})"


def _probability(met, t: dict) -> str:
    met = np.asarray(met, dtype=float)
    if np.all(np.isnan(met)):
        return t["not_simulated"]
    low, high = report.jeffreys(met)
    return f"{100 * np.nanmean(met):.0f} % [{100 * low:.0f}-{100 * high:.0f} %]"


def _tables(cmp: xr.Dataset, lang: str) -> tuple[dict, dict]:
    cmp = compare.full_size(cmp)
    t = TEXT[lang]
    names = report.labels(cmp)
    largest = max(float(np.nanmax(cmp["cost_sum"].sel(scenario=n))) for n in names)
    divisor, unit = charts.money_unit(largest, lang)
    people = 1e4 if lang == "zh" else 1.0
    rows = []
    for n in names:
        c = cmp.sel(scenario=n)
        start = c["registered_people_total"].sel(year=int(c["scenario_base_year"])).values
        rows.append([charts.label_of(cmp, n, lang), _spread(start, lang, people),
                     _zero_text(c["zero_year"].values, int(c["scenario_end_year"]), t),
                     _spread(c["exits_sum"].values, lang, people),
                     _spread(c["returns_sum"].values, lang, people),
                     _spread(c["cost_sum"].values, lang, divisor),
                     _spread(c["cost_per_exit"].values, lang)])
    key = {"head": [h.format(unit=unit) for h in t["head"]], "rows": rows}
    targets = []
    for label in cmp["target"].values:
        target = compare.Target.from_label(label)
        cells = [report_text.target_text(target, lang)]
        for n in names:
            c = cmp.sel(scenario=n, target=label)
            planned = float(c["target_in_plan"])
            cells.append("" if np.isnan(planned) else _probability(c["target_met"].values, t))
        if any(cells[1:]):
            targets.append(cells)
    head = [t["target"]] + [charts.label_of(cmp, n, lang) for n in names]
    return key, {"head": head, "rows": targets}


def _fits(cmp: xr.Dataset, lang: str) -> list[dict]:
    """Provenance of each calibration fit the scenarios extend (when the file is found)."""
    from model.scenario import data_root

    t = TEXT[lang]["fit"]
    paths = sorted({f for n in report.labels(cmp) for f in charts._json(cmp, "scenario_extends",
                                                                        n, [])
                    if "calibration/fits/" in f})
    out = []
    for path in paths:
        found = next((p for p in (Path(path), data_root() / path) if p.is_file()), None)
        facts = []
        if found is not None:
            fit = tomllib.loads(found.read_text(encoding="utf-8")).get("fit", {})
            facts = [(t[k], str(fit[k])) for k in t if k in fit]
        out.append({"path": path, "facts": facts})
    return out


def _scenarios(cmp: xr.Dataset, lang: str) -> list[dict]:
    t = TEXT[lang]
    out = []
    for n in report.labels(cmp):
        c = cmp.sel(scenario=n)
        text = str(c["scenario_text"].values)
        try:
            description = tomllib.loads(text).get("description", "")
        except tomllib.TOMLDecodeError:
            description = ""
        out.append({"name": n, "label": charts.label_of(cmp, n, lang), "text": text,
                    "description": description,
                    "facts": t["registry"].format(registry=str(c["scenario_registry"].values),
                                                  first=int(c["scenario_base_year"]),
                                                  last=int(c["scenario_end_year"]),
                                                  scale=charts.scale_of(cmp, n))})
    return out


def _plan_warnings(cmp: xr.Dataset, names: list[str], lang: str) -> list[str]:
    """The summary's capacity and delivery warnings, one line each, for the
    top of the page: what stops households exiting by the deadline."""
    full = compare.full_size(cmp)
    lines = (report.capacity_warnings(full, names, lang)
             + report.waiting_warnings(full, names, lang)
             + report.income_waiting_warnings(full, names, lang))
    return [line.removeprefix("- ") for line in lines]


def contents(folder: Path, lang: str = "en", date: dt.date | None = None) -> dict:
    """What a report of an output folder shows, in ``lang`` (the HTML page's
    and the PDF's): title, lead, warnings, provenance, the results and
    target tables, the charts (PNG, base64), extras, scenarios, fits, the
    summary's text and the line saying when it was written.

    Raises
    ------
    PovsimError
        When the folder holds no run or comparison, or Chinese is asked for
        without a CJK font.
    """
    folder = Path(folder)
    cmp, kind = load(folder)
    chart_lang, font, warning = charts.chart_language(lang)
    if warning:
        raise PovsimError(warning)
    t = TEXT[lang]
    names = report.labels(cmp)
    seeds = [int(s) for s in cmp["seed"].values]
    date = date or dt.date.today()
    scales = sorted({charts.scale_of(cmp, n) for n in names})
    fits = _fits(cmp, lang)
    provenance = [
        (t["seeds"], f"{len(seeds)} ({seeds[0]}-{seeds[-1]})"),
        (t["scale"], "; ".join(t["full"] if s >= 1 else t["sample"].format(scale=s)
                               for s in scales)),
        (t["fits"], ", ".join(f["path"] for f in fits) or t["no_fit"]),
        (t["code"], str(cmp.attrs.get("code_version", f"povsim {__version__}"))),
        (t["date"], date.isoformat()),
    ]
    figures = []
    with charts.style(font):
        for name in charts.CHARTS:
            if name == "county_exits" and not any(charts.county_exit_shares(cmp, n)[0]
                                                  for n in names):
                continue
            fig = getattr(charts, name)(cmp, chart_lang)
            figures.append({"png": _png(fig), "alt": fig.subfigs[0]._suptitle.get_text()})
    extras = []
    if (folder / "backtest.txt").is_file():
        extras.append({"title": t["backtest"],
                       "text": (folder / "backtest.txt").read_text(encoding="utf-8"),
                       "png": base64.b64encode((folder / "backtest.png").read_bytes()).decode()
                       if (folder / "backtest.png").is_file() else ""})
    key, targets = _tables(cmp, lang)
    labels = [charts.label_of(cmp, n, lang) for n in names]
    summary = folder / "summary.md"
    summary_text = summary.read_text(encoding="utf-8") if summary.is_file() else ""
    page = dict(
        html_lang="zh-CN" if lang == "zh" else "en", t=t,
        title=t["title"].format(names=", ".join(labels)),
        lead=t["lead"].format(kind=t["kinds"][kind], n=len(names), seeds=len(seeds)),
        warnings=([t["few"].format(n=len(seeds))] if len(seeds) < report.FEW_SEEDS else [])
        + _plan_warnings(cmp, names, lang),
        provenance=provenance, key_table=key, target_table=targets, charts=figures,
        extras=extras, scenarios=_scenarios(cmp, lang), fits=fits,
        summary_md=summary_text,
        summary_head=t["summary_md_en"] if lang == "zh" and not summary_text.startswith(
            report_text.TEXT["zh"]["title"].split("{")[0]) else t["summary_md"],
        generated=t["generated"].format(version=__version__, date=date.isoformat()))
    return page


def html(folder: Path, lang: str = "en", date: dt.date | None = None) -> str:
    """The report of an output folder as one HTML text (see the module docstring).

    Raises
    ------
    PovsimError
        As :func:`contents`.
    """
    import jinja2

    page = contents(folder, lang, date)
    env = jinja2.Environment(loader=jinja2.PackageLoader("model.analysis", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.get_template("report.html.j2")
    font = cjk_font_face(template.render(**page, font_face=""))
    return template.render(**page, font_face=font)


def write(folder: Path, out: Path | None = None, lang: str = "en") -> Path:
    """Write the report (default ``DIR/report.html``, ``DIR/report-zh.html``
    in Chinese) atomically; return its path."""
    return write_report(folder, out, lang, ".html",
                        lambda: html(folder, lang).encode("utf-8"))


def write_report(folder: Path, out: Path | None, lang: str, suffix: str, make) -> Path:
    """Write ``make()`` (bytes) to ``out`` (default ``DIR/report<suffix>``,
    ``DIR/report-zh<suffix>`` in Chinese) atomically, the location checked
    before any work; return its path."""
    from model.atomic import atomic_write, check_output_file

    folder = Path(folder)
    out = Path(out) if out is not None else folder / ("report" + ("" if lang == "en"
                                                                  else f"-{lang}") + suffix)
    check_output_file(out, (suffix,))      # before any work
    data = make()
    atomic_write(out, lambda tmp: Path(tmp).write_bytes(data))
    return out
