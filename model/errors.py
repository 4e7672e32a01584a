"""Errors that the command line reports as one clear line (exit code 2).

Every error raised for bad user input is a :class:`PovsimError`. Its message
names where the problem is (file, field or line), the value found and what was
expected; :func:`close_match` adds a suggestion for a misspelt key.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Iterable

BRIEF = 60   # characters of a value shown in a message


class PovsimError(Exception):
    """Bad input: a scenario, parameter overlay, registry or argument."""


class ParameterError(PovsimError):
    """An unknown parameter, a value out of its declared range, or a bad date."""


class SchemaError(PovsimError):
    """A table that does not match its schema (dtype, range or consistency)."""


class ScenarioError(PovsimError):
    """A scenario file with an unknown key, a wrong type or a bad value."""


def close_match(key: str, candidates: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest candidate, or ``""``.

    Parameters
    ----------
    key : str
        The misspelt key.
    candidates : iterable of str
        The keys that are allowed here.
    """
    found = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{found[0]}'?)" if found else ""


def brief(value: Any, limit: int = BRIEF) -> str:
    """``repr(value)``, cut to about ``limit`` characters (a long value is not
    echoed in full)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 15]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Key:
    """A declared key of an input table: its type, inclusive range and unit.

    ``low_open`` makes the lower bound exclusive. Numbers (and every number of
    a list) must be finite and in range; ``integer`` asks whole numbers of a
    float-typed key.
    """

    kind: type | tuple[type, ...]
    low: float = -math.inf
    high: float = math.inf
    unit: str = ""
    low_open: bool = False

    def expected(self) -> str:
        """What a value must be, in words."""
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        what = ("a whole number" if int in kinds and float not in kinds else "a number")
        if list in kinds and len(kinds) == 1:
            what = "a list of numbers"
        lo, hi = _number(self.low), _number(self.high)
        if self.low > -math.inf and self.high < math.inf:
            span = f" above {lo} and at most {hi}" if self.low_open else f" from {lo} to {hi}"
        elif self.low > -math.inf:
            span = f" above {lo}" if self.low_open else f" at least {lo}"
        elif self.high < math.inf:
            span = f" at most {hi}"
        else:
            span = ""
        return what + span + (f" ({self.unit})" if self.unit else "")

    def bad_number(self, value: Any) -> bool:
        """True for a number (or list holding one) that is not finite or out of range."""
        items = value if isinstance(value, list) else [value]
        for v in items:
            if isinstance(v, bool) or not isinstance(v, int | float):
                if isinstance(value, list):   # a list of numbers holds numbers only
                    return True
                continue
            if not math.isfinite(v) or v > self.high or v < self.low or (
                    self.low_open and v == self.low):
                return True
        return False


def _number(x: float) -> str:
    """A bound in words: whole numbers with thousands separators."""
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}"
    return f"{x:g}"


def _type_names(want) -> str:
    return " or ".join(t.__name__ for t in (want if isinstance(want, tuple) else (want,)))


def key_problem(table: dict, allowed: dict, section: str | None) -> tuple[str, str] | None:
    """The first unknown key, wrongly typed value or value out of its declared
    range of a table, or None: the one key checker of input files (scenarios,
    registry specs).

    Parameters
    ----------
    table : dict
        The table read from a file.
    allowed : dict
        Allowed key -> type or tuple of types, or a :class:`Key` (type, range
        and unit); a default value stands for its kind (a list for lists, a
        number for int or float).
    section : str or None
        The table's dotted name, for the message.

    Returns
    -------
    tuple of (str, str) or None
        ``(key, message)``: the key at fault and what is wrong with it, with
        a close match for a misspelt key.
    """
    for key, value in table.items():
        label = f"{section}.{key}" if section else key
        if key not in allowed:
            return key, f"unknown key '{label}'" + close_match(str(key), allowed)
        declared = allowed[key]
        want = declared.kind if isinstance(declared, Key) else declared
        if not isinstance(want, tuple | type):
            want = list if isinstance(want, list) else (int, float)
        if not isinstance(value, want) or (isinstance(value, bool) and want is not bool):
            expected = declared.expected() if isinstance(declared, Key) else _type_names(want)
            return key, f"'{label}' = {brief(value)}: expected {expected}"
        if isinstance(declared, Key) and declared.bad_number(value):
            return key, f"'{label}' = {brief(value)}: expected {declared.expected()}"
    return None

