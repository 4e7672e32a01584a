"""What the engine hands a programme each year: the parameters in force and
the year's context (registry, state, seed, lines, scale)."""

from __future__ import annotations

import numpy as np

from model.engine.codes import RETURN
from model.engine.rules import household_line_np
from model.engine.state import State
from model.engine.tally import registered_people_by
from model.engine.threads import indices_where
from model.params import Parameters
from model.registry.tables import Registry


class YearParams:
    """Parameters in force in one year: ``p("asset_income.dividend")``."""

    def __init__(self, params: Parameters, year: int):
        self.params, self.year = params, year

    def __call__(self, name: str):
        value = self.params.at(name, self.year)
        return float(value) if value.ndim == 0 else value

    def has(self, name: str) -> bool:
        return name in self.params


class Context:
    """What a programme sees in a year: registry, state, parameters, seed, lines."""

    def __init__(self, reg: Registry, st: State, p: YearParams, seed: int, line: float,
                 covered_line: float, scale: float = 1.0, lasting: dict | None = None,
                 village_people: np.ndarray | None = None,
                 county_starts: np.ndarray | None = None,
                 newly_registered: np.ndarray | None = None):
        self.reg, self.st, self.p, self.seed = reg, st, p, seed
        self.year = p.year
        self.line, self.covered_line = line, covered_line
        self.scale = scale  # share of households simulated: capacities are scaled alike
        # programme name -> fraction of the year in effect by county (0..1) of
        # the enrolments taking effect this year (in-year delivery, model.engine.delivery)
        self.first_year_fraction: dict[str, np.ndarray] = {}
        # what a programme computes once a year but reads in more than one
        # step (masks, draws), keyed by (programme name, what)
        self.drawn: dict[tuple[str, str], np.ndarray] = {}
        # the programme whose step set a floor this year (one may)
        self.floor_by: str | None = None
        # what a programme computes once a run (masks of the registry alone;
        # amounts of the registry, with the parameters they were computed
        # from), keyed by (programme name, what); the engine hands the same
        # dict every year
        self.lasting: dict[tuple[str, str], object] = {} if lasting is None else lasting
        # registered people by village as the year starts, when the engine
        # has them (last year's tally counted them after its verification)
        self._village_people: np.ndarray | None = village_people
        # the households that came onto the registry at last year's
        # verification, when the engine has them (last year's record listed
        # them with its exits)
        self._newly_registered: np.ndarray | None = newly_registered
        # where each county's households start (model.engine.coverage.group_starts),
        # None when households are not stored county by county
        self.county_starts = county_starts
        self._registered: np.ndarray | None = None

    def registered(self) -> np.ndarray:
        """Mask of the households on the registry (``State.registered``),
        computed once until :meth:`status_changed` (read only)."""
        if self._registered is None:
            self._registered = self.st.registered()
        return self._registered

    def registered_people_by_village(self) -> np.ndarray:
        """Registered poor people per village (float64), computed once until
        :meth:`status_changed` (read only)."""
        if self._village_people is None:
            h = self.reg.households
            self._village_people = np.zeros(len(self.reg.villages["village_id"]))
            registered_people_by(h["village"], h["size"], self.st.status, self._village_people)
        return self._village_people

    def newly_registered(self) -> np.ndarray:
        """Households that came onto the registry at last year's verification
        (returns and entries: the only ways on), ascending; computed once a
        year, before this year's verification (read only)."""
        if self._newly_registered is None:
            # events are NO_EVENT, EXIT, RETURN, ENTRY: the last two come on
            self._newly_registered = indices_where(self.st.event >= RETURN)
        return self._newly_registered

    def status_changed(self) -> None:
        """Forget what was computed from the households' status (the engine
        calls it after verification)."""
        self._village_people = self._registered = None

    def household_line(self, idx=slice(None)) -> np.ndarray:
        """The line each household ``idx`` is judged against (yuan/person/year)."""
        floor = self.st.floor[idx]
        if self.st.floor_stale:  # last year's floors, before this year's step
            floor = np.zeros_like(floor)
        return household_line_np(floor, self.line, self.covered_line)
