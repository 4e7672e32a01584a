"""Errors that the command line reports as one clear line (exit code 2).

Every error raised for bad user input is a :class:`PovsimError`. Its message
names where the problem is (file, field or line), the value found and what was
expected; :func:`close_match` adds a suggestion for a misspelt key.
"""

from __future__ import annotations

import difflib
from typing import Iterable


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


def key_problem(table: dict, allowed: dict, section: str | None) -> tuple[str, str] | None:
    """The first unknown key or wrongly typed value of a table, or None: the
    one key checker of input files (scenarios, registry specs).

    Parameters
    ----------
    table : dict
        The table read from a file.
    allowed : dict
        Allowed key -> type or tuple of types (a default value stands for
        its kind: a list for lists, a number for int or float).
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
            return key, f"unknown key '{label}'" + close_match(key, allowed)
        want = allowed[key]
        if not isinstance(want, tuple | type):
            want = list if isinstance(want, list) else (int, float)
        if not isinstance(value, want) or (isinstance(value, bool) and want is not bool):
            names = " or ".join(t.__name__ for t in (want if isinstance(want, tuple) else (want,)))
            return key, f"'{label}' = {value!r}: expected {names}"
    return None

