"""Every shipped scenario, at a small scale and two seeds, gives the numbers
stored in ``behaviour_digest.json``: a change meant to keep behaviour keeps
every numeric result bit for bit. When the model is meant to change, rewrite
the digest (``python tests/behaviour_digest.py --write``) in the same commit
and say why."""

import json

import behaviour_digest as bd
import pytest

STORED = json.loads(bd.STORED.read_text())


def test_every_shipped_scenario_has_a_stored_digest():
    assert sorted(STORED) == bd.scenario_names()


@pytest.mark.parametrize("name", sorted(STORED))
def test_results_are_bit_identical_to_the_stored_digest(name):
    current = bd.digest(name)
    changed = sorted(v for v in set(current) | set(STORED[name])
                     if current.get(v) != STORED[name].get(v))
    assert not changed, f"{name}: variables changed: {', '.join(changed)}"
