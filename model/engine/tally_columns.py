"""The tally's named columns: what the year-end tally counts and sums for
each county and category (:mod:`model.engine.tally`), with units and long
names. Apart from the tally's kernels, so that reading a record's columns
(:mod:`model.engine.record`, :mod:`model.results`) needs no numba.
"""

from __future__ import annotations

# (name, unit, long name) of every tallied sum; the index is the column
TALLY = (
    ("households", "households", "households simulated (registry and near-poor pool)"),
    ("people", "persons", "people simulated (registry and near-poor pool)"),
    ("registered_households", "households", "registered poor households (poor or returned) at year end"),
    ("registered_people", "persons", "registered poor people (poor or returned) at year end"),
    ("exited_households", "households", "exited households at year end"),
    ("exited_people", "persons", "people in exited households at year end"),
    ("exits_households", "households", "households exiting in the year"),
    ("exits_people", "persons", "people in households exiting in the year"),
    ("returns_households", "households", "exited households returning to the registry in the year"),
    ("returns_people", "persons", "people in households returning in the year"),
    ("entries_households", "households", "near-poor households newly identified in the year (新识别)"),
    ("entries_people", "persons", "people in newly identified households"),
    ("true_poor_households", "households", "households whose true income is below their line"),
    ("true_poor_people", "persons", "people whose true household income is below their line"),
    ("wrongly_exited_households", "households",
     "exited households whose true income is below their line (错退)"),
    ("missed_households", "households",
     "households not on the registry whose true income is below their line (漏评)"),
    ("missed_people", "persons", "people in missed households (漏评)"),
    ("income_sum_registered", "yuan/year", "total income of registered people"),
    ("gap_sum_registered", "persons", "sum over registered people of max(0, 1 - income / line)"),
    ("shortfall_registered", "yuan/year",
     "total shortfall of registered people below their line"),
    ("income_sum_exiting", "yuan/year",
     ("total income of people in households exiting in the year (with income_sum_registered: "
      "the income of everyone on the registry during the year)")),
    ("wrong_exits_households", "households",
     "households exiting in the year whose true income is below their line (错退 of the year)"),
)
NV = len(TALLY)
COL = {name: k for k, (name, _, _) in enumerate(TALLY)}
