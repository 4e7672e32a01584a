"""The words of a comparison's summary (``summary.md``) and report, in
English and Chinese.

The chart labels (batches, money units) are :data:`model.analysis.charts.TEXT`'s;
the target descriptions here serve both ``summary.md``
(:func:`model.analysis.report.markdown`) and the HTML report
(:mod:`model.analysis.html_report`). Chinese counts of people are in 万人,
money in 万元 or 亿元 (:func:`model.analysis.charts.money_unit`).
"""

from __future__ import annotations

from model.analysis.charts import TEXT as CHART_TEXT
from model.analysis.compare import Target

LANGS = ("en", "zh")

TARGET_KINDS = {
    "en": {"zero_by": "no registered poor left at the end of {year}",
           "registered_max": "registered poor at most the plan, {year}",
           "incidence_max": "incidence (registered / rural population) at most the plan, {year}",
           "exits_people": "exits (persons) at least the plan, {year}",
           "batch_quota": "{batch} exits reached at least the quota, {year}",
           "villages_exit_share": "poor villages exited by {year} at least the plan's "
                                  "cumulative share",
           "counties_exit_share": "poor counties exited by {year} at least the plan's "
                                  "cumulative share",
           "counties_exit_by": "every poor county exited by {year}"},
    "zh": {"zero_by": "{year}年底建档立卡贫困人口清零",
           "registered_max": "{year}年建档立卡贫困人口不超过计划",
           "incidence_max": "{year}年贫困发生率不超过计划",
           "exits_people": "{year}年脱贫人数不少于计划",
           "batch_quota": "{year}年“{batch}”脱贫人数不少于任务",
           "villages_exit_share": "至{year}年贫困村出列比例不低于计划",
           "counties_exit_share": "至{year}年贫困县摘帽比例不低于计划",
           "counties_exit_by": "{year}年底贫困县全部摘帽"},
}

TEXT = {
    "en": {
        "title": "# povsim compare: {names}",
        "intro": "{n} seed(s) ({seeds}), the same for every scenario (common random numbers). "
                 "Figures are the median over seeds with the 10-90 % range in brackets; "
                 "probabilities are the share of seeds meeting the target, with its {level} % "
                 "Monte Carlo interval (Jeffreys) in square brackets.",
        "few": "Warning: {n} seed(s) only: probabilities are rough (see their intervals); "
               "{few} or more seeds narrow them.",
        "scale": "Simulated at scale {scale:g} (that share of the households): {names}. Counts "
                 "and cost are scaled up to full size (divided by the scale); shares, "
                 "probabilities and cost per exit are as simulated.",
        "capacity_head": "## Warning: capacity short of need",
        "capacity": "Programmes that grant an exit condition (两不愁三保障) whose yearly "
                    "capacities, summed to the deadline, fall short of the registered "
                    "households lacking that condition in the base year: some of them cannot "
                    "exit in time, whatever the incomes (in-year delivery only delays more).",
        "capacity_line": "- {name}: {programme} can take {capacity} by {deadline} against a "
                         "need of {need} ({share} of it).",
        "waiting_head": "## Warning: households still waiting for delivery at the deadline",
        "waiting": "Programmes that grant an exit condition with households enrolled but not yet "
                   "delivered at the end of the deadline year (median over seeds): their exit "
                   "waits for it, whatever their incomes.",
        "waiting_line": "- {name}: {programme}: {waiting} households waiting at the end of "
                        "{deadline} ({share} of the base-year need of {need}).",
        "waiting_line_over": "- {name}: {programme}: {waiting} households waiting at the end "
                             "of {deadline}, more than the base-year need of {need}: the "
                             "programme also enrols households for its income, so at most "
                             "{need} of them wait on it to exit.",
        "income_waiting_head": "## Warning: income programmes still waiting for delivery at "
                               "the deadline",
        "income_waiting": "Income programmes with a tenth or more of the households they "
                          "enrolled up to the deadline still not in effect at its end (median "
                          "over seeds): in-year delivery (visits, approval, funds, build time), "
                          "not the quota, limits what they add to incomes by then.",
        "income_waiting_line": "- {name}: {programme}: {waiting} of the {enrolled} households "
                               "enrolled by {deadline} still waiting for delivery at its end "
                               "({share}).",
        "county_head": "## Poor counties not out by the plan's county deadline",
        "county": "A poor county exits once its registered incidence is below its region's "
                  "line (county_exit.incidence; the west: county_exit.incidence_west). Median "
                  "over seeds. A lowest incidence below the line means that county waits on "
                  "another condition: its first allowed year or its wrongful-exit or missed "
                  "rate.",
        "county_line": "- {name}: {not_out} of {poor} poor counties not out at the end of "
                       "{deadline}; the lowest incidence among them {lowest}.",
        "quota_head": "## Warning: pathway quotas the programmes cannot deliver",
        "quota": "The mean shortfall of a quota's people below the exit threshold, taking "
                 "the matched households closest to it first, against the income the "
                 "batch's programmes add at full effect (:mod:`model.analysis.quota_check`).",
        "zero_head": "## Registered poor reach zero",
        "zero_cols": ["scenario", "registry", "years", "registered at start", "zero in"],
        "p_zero": "P(zero by {year})", "plan_mark": " (plan)",
        "not_by": "not by {year}", "to": "to", "not_simulated": "not simulated",
        "targets_head": "## Targets: probability of meeting each",
        "targets": "Each cell: probability (median simulated value vs the plan's value). Batch "
                   "quotas are compared with the exits each batch's programmes reached "
                   "(plans count a household in every batch that helps it).",
        "target_cell": "{p} ({actual} vs {planned})", "target": "target",
        "no_targets": "No scenario states targets besides the zero deadline.",
        "gap_head": "## Gap to the plan",
        "gap": "Registered poor people minus the number the plan's yearly exits leave "
               "(positive: behind the plan), {persons}.",
        "year": "year", "gap_cell": "{gap}; plan {plan}",
        "batch_head": "## Exits by batch (五个一批)",
        "batch": "{persons_cap}, mean over seeds, summed over the simulated years. Exclusive: "
                 "each exit counted once, for the pathway that made the difference (`none`: "
                 "own income alone). Reached: exits the batch's programmes reached "
                 "(overlapping, like the plans' quotas). Quota: the plan's quotas summed over "
                 "its years.",
        "batch_cols": ["scenario", "batch", "exclusive", "reached", "quota"],
        "cost_head": "## Exits, returns and cost",
        "cost": "Summed over the simulated years; cost is programme cost in {money}, cost per "
                "exit in yuan per person exiting.",
        "cost_cols": ["scenario", "exits ({persons})", "returns ({persons})", "cost ({money})",
                      "cost per exit (yuan)"],
        "diff_head": "## Paired differences against {name}",
        "diff": "The scenario minus the first for the same seed, over the years both "
                "simulate: mean (10-90 % range). Zero year: seeds where both reach zero.",
        "diff_cols": ["scenario", "zero year (years)", "registered at end ({persons})",
                      "exits ({persons})", "returns ({persons})", "cost ({money})",
                      "cost per exit (yuan)"],
        "diff_zero": "{value} in {both} of {n} seeds",
        "diff_none": "no seed reaches zero in both",
        "persons": "persons", "persons_cap": "Persons", "batch_names": None,
    },
    "zh": {
        "title": "# povsim 情景比较：{names}",
        "intro": "{n}个随机种子（{seeds}），各情景相同（共同随机数）。数值为各随机种子的中位数，"
                 "括号内为 10%-90% 区间；概率为达到目标的随机种子比例，方括号内为其 {level}% "
                 "蒙特卡洛区间（Jeffreys）。",
        "few": "注意：仅 {n} 个随机种子，概率较粗略（见其区间）；{few} 个以上随机种子可缩小区间。",
        "scale": "按模拟规模 {scale:g} 模拟（按此比例抽取农户）：{names}。人数和成本已放大至全部"
                 "农户（除以模拟规模）；比例、概率和每脱贫一人成本为模拟值。",
        "capacity_head": "## 注意：项目能力不足",
        "capacity": "保障脱贫条件（两不愁三保障）的项目，其至期限的年度能力之和少于基年缺少该条件的"
                    "建档立卡户：无论收入如何，其中部分农户无法按期脱贫（年内实施只会进一步推迟）。",
        "capacity_line": "- {name}：{programme} 至{deadline}年可覆盖 {capacity} 户，需求 {need} 户"
                         "（为需求的 {share}）。",
        "waiting_head": "## 注意：期限时仍待实施的农户",
        "waiting": "保障脱贫条件的项目，至期限年末已纳入但尚未实施完成的农户（各随机种子的中位数）："
                   "无论收入如何，其脱贫须待项目完成。",
        "waiting_line": "- {name}：{programme} 至{deadline}年末仍有 {waiting} 户待实施"
                        "（为基年需求 {need} 户的 {share}）。",
        "waiting_line_over": "- {name}：{programme} 至{deadline}年末仍有 {waiting} 户待实施，"
                             "多于基年需求 {need} 户：该项目也为增收纳入农户，其中至多 {need} "
                             "户的脱贫须待其完成。",
        "income_waiting_head": "## 注意：期限时仍待实施的增收项目",
        "income_waiting": "增收项目至期限已纳入的农户中，至期限年末仍有一成或以上尚未实施（各随机"
                          "种子的中位数）：限制其到期增收的是年内实施（走访、审批、资金、建设"
                          "时间），而非项目指标。",
        "income_waiting_line": "- {name}：{programme} 至{deadline}年已纳入的 {enrolled} 户中，"
                               "年末仍有 {waiting} 户待实施（{share}）。",
        "county_head": "## 贫困县摘帽期限时尚未摘帽的贫困县",
        "county": "贫困县在建档立卡贫困发生率降至所在地区标准以下时摘帽"
                  "（county_exit.incidence；西部：county_exit.incidence_west）。各随机种子的中位数；"
                  "若最低发生率已低于标准，该县受其他条件限制：最早摘帽年份、错退率或漏评率。",
        "county_line": "- {name}：至{deadline}年末 {poor} 个贫困县中仍有 {not_out} 个未摘帽，"
                       "其中最低贫困发生率 {lowest}。",
        "quota_head": "## 注意：项目无法完成的“五个一批”任务",
        "quota": "任务人口距脱贫标准的平均差距（优先取最接近标准的匹配农户），与该批项目充分见效"
                 "时增加的收入相比（:mod:`model.analysis.quota_check`）。",
        "zero_head": "## 建档立卡贫困人口清零",
        "zero_cols": ["情景", "建档立卡数据", "年份", "初始建档立卡人口（万人）", "清零年份"],
        "p_zero": "{year}年底前清零概率", "plan_mark": "（计划）",
        "not_by": "{year}年前未清零", "to": "至", "not_simulated": "未模拟",
        "targets_head": "## 目标：实现各目标的概率",
        "targets": "每格：概率（模拟值中位数与计划值）。“五个一批”任务与各批项目覆盖的脱贫人数相比"
                   "（计划中一户可计入所有帮扶它的批次）。",
        "target_cell": "{p}（模拟 {actual}，计划 {planned}）", "target": "目标",
        "no_targets": "除清零期限外，各情景未设其他目标。",
        "gap_head": "## 与计划的差距",
        "gap": "建档立卡贫困人口减去按计划年度脱贫人数应剩人数（正数：落后于计划），{persons}。",
        "year": "年份", "gap_cell": "{gap}；计划 {plan}",
        "batch_head": "## “五个一批”脱贫人数",
        "batch": "{persons_cap}，各随机种子平均，模拟各年合计。单一归因：每个脱贫户只计一次，计入起"
                 "决定作用的路径（“自身收入”：仅靠自身收入）。覆盖：各批项目覆盖的脱贫人数（可重叠，"
                 "与计划任务的口径相同）。任务：计划各年任务之和。",
        "batch_cols": ["情景", "批次", "单一归因", "覆盖", "任务"],
        "cost_head": "## 脱贫、返贫与成本",
        "cost": "模拟各年合计；成本为项目成本（{money}），每脱贫一人成本单位为元。",
        "cost_cols": ["情景", "脱贫人数（{persons}）", "返贫人数（{persons}）", "成本（{money}）",
                      "每脱贫一人成本（元）"],
        "diff_head": "## 与{name}的配对差异",
        "diff": "同一随机种子下本情景减去第一个情景，取两者都模拟的年份：平均值（10%-90% 区间）。"
                "清零年份：两者都清零的随机种子。",
        "diff_cols": ["情景", "清零年份（年）", "期末建档立卡人口（{persons}）", "脱贫人数（{persons}）",
                      "返贫人数（{persons}）", "成本（{money}）", "每脱贫一人成本（元）"],
        "diff_zero": "{value}（{n}个随机种子中{both}个）",
        "diff_none": "没有随机种子两者都清零",
        "persons": "万人", "persons_cap": "万人",
        "batch_names": CHART_TEXT["zh"]["batches"],
    },
}

PEOPLE = {"en": (1.0, 0), "zh": (1e4, 2)}   # divisor and digits of counts of people


def target_text(target: Target, lang: str = "en") -> str:
    """What a target asks, in words."""
    batch = target.batch
    names = TEXT[lang]["batch_names"]
    if names:
        batch = names.get(batch, batch)
    return TARGET_KINDS[lang][target.kind].format(year=target.year, batch=batch)


def batch_name(batch: str, lang: str = "en") -> str:
    names = TEXT[lang]["batch_names"]
    return names.get(batch, batch) if names else batch
