"""What a run keeps: aggregates by year, county, category and programme.

The record is written by the yearly loop (:mod:`model.engine.sim`) and turned
into a dataset by :mod:`model.results`; both name the columns of its arrays
through the tuples below, never by position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.engine.codes import ATTRIBUTION, BATCHES
from model.engine.tally_columns import NV

# named columns of the record's arrays (last axis)
PROGRAMME_COLUMNS = ("new_households", "active_households", "cost", "active_people")
LINE_COLUMNS = ("poverty_line", "covered_line")
EXIT_COUNT_COLUMNS = ("households", "people")
RATE_COLUMNS = ("wrong_exit_rate", "missed_rate")
DELIVERY_COLUMNS = ("delivery_due", "delivery_in_effect", "delivery_backlog",
                    "delivery_household_years", "funds_unspent")
COLUMNS = {"programme": PROGRAMME_COLUMNS, "lines": LINE_COLUMNS,
           "batch_exits": EXIT_COUNT_COLUMNS, "rates": RATE_COLUMNS,
           "delivery": DELIVERY_COLUMNS}


@dataclass
class Record:
    """What a run keeps: aggregates only, never household rows.

    Shapes (``Y`` years, ``C`` counties, ``G`` categories, ``P`` programmes):
    ``sums`` (Y, C, G, NV): the tally, columns named in
    :data:`model.engine.tally.TALLY`; ``median`` (Y, C, G): median per-capita
    income of the registered people of each county and category, and
    ``median_all`` (Y,): of all of them (yuan/person/year, NaN when there are
    none; from the year's histogram, :func:`model.engine.tally.take_medians`,
    which the record does not keep); ``programme``
    (Y, C, P, len(PROGRAMME_COLUMNS)); ``lines`` (Y, len(LINE_COLUMNS));
    ``batch_exits`` (Y, C, len(ATTRIBUTION), len(EXIT_COUNT_COLUMNS)): exits
    by pathway; ``batch_reached`` (Y, C, len(BATCHES)): people in exiting
    households each pathway reached; ``rates`` (Y, C, len(RATE_COLUMNS));
    ``villages_exited`` (Y, C): village exits in the year;
    ``village_exit_year`` (villages,) and ``county_exit_year`` (C,): 0 when
    not exited by the end; ``delivery`` (Y, C, P, len(DELIVERY_COLUMNS));
    ``delivery_monthly`` (Y, P, 12): enrolments in effect by the end of each
    month, all counties; ``need`` (P,): what each programme granting a
    guarantee must reach in the base year
    (:meth:`model.programmes.base.Programme.need`, NaN for the others);
    ``capacity`` (Y, P): its new enrolments allowed each year, at the run's
    scale (in its unit). A last axis with named columns is written and read
    by name through :meth:`col`, never by position.
    """

    years: np.ndarray
    sums: np.ndarray
    median: np.ndarray
    median_all: np.ndarray
    programme: np.ndarray
    lines: np.ndarray
    batch_exits: np.ndarray
    batch_reached: np.ndarray
    rates: np.ndarray
    villages_exited: np.ndarray
    village_exit_year: np.ndarray
    county_exit_year: np.ndarray
    delivery: np.ndarray
    delivery_monthly: np.ndarray
    need: np.ndarray | None = None
    capacity: np.ndarray | None = None

    @classmethod
    def empty(cls, years: np.ndarray, n_counties: int, n_categories: int, n_programmes: int,
              village_exit_year: np.ndarray, county_exit_year: np.ndarray) -> Record:
        """A record of zeros for ``years``; the exit years are the state's own arrays."""
        ny, nc, npr = len(years), n_counties, n_programmes
        return cls(years, np.zeros((ny, nc, n_categories, NV)),
                   np.full((ny, nc, n_categories), np.nan), np.full(ny, np.nan),
                   np.zeros((ny, nc, npr, len(PROGRAMME_COLUMNS))),
                   np.zeros((ny, len(LINE_COLUMNS))),
                   np.zeros((ny, nc, len(ATTRIBUTION), len(EXIT_COUNT_COLUMNS))),
                   np.zeros((ny, nc, len(BATCHES))), np.zeros((ny, nc, len(RATE_COLUMNS))),
                   np.zeros((ny, nc)), village_exit_year, county_exit_year,
                   np.zeros((ny, nc, npr, len(DELIVERY_COLUMNS))), np.zeros((ny, npr, 12)))

    @staticmethod
    def col(field: str, name: str) -> int:
        """Index of column ``name`` on the last axis of the array ``field``."""
        return COLUMNS[field].index(name)
