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
