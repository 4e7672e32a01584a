"""Digest of the numbers every shipped scenario produces, to check that a
change meant to keep behaviour keeps it bit for bit.

``python tests/behaviour_digest.py --write`` stores the digest of the current
code in ``tests/behaviour_digest.json``; ``tests/test_behaviour_digest.py``
compares the code with it. Update the stored digest only when the model is
meant to change, and say so in the commit message.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

STORED = Path(__file__).with_name("behaviour_digest.json")
SEEDS = (0, 1)
MAX_HOUSEHOLDS = 20_000  # each scenario is run at a scale holding about this many


def scenario_names() -> list[str]:
    from model.scenario import list_scenarios

    return sorted({"default"} | {entry[0] for entry in list_scenarios()})


def small_scenario(name: str):
    """The scenario at a scale holding about ``MAX_HOUSEHOLDS`` households."""
    import dataclasses

    from model.runs import registry_for
    from model.scenario import load_scenario

    scenario = load_scenario(None if name == "default" else name)
    probe = dataclasses.replace(scenario, scale=0.01)
    full = registry_for(probe).n_households / 0.01
    scale = min(scenario.scale, MAX_HOUSEHOLDS / full)
    return dataclasses.replace(scenario, scale=float(f"{scale:.3g}"))


def digest(name: str) -> dict[str, str]:
    """sha256 of every numeric variable of the scenario's run, by name."""
    import model

    ds = model.run(small_scenario(name), seeds=list(SEEDS), progress=False)
    out = {}
    for var in sorted(ds.data_vars):
        values = ds[var].values
        if values.dtype.kind in "biuf":
            out[var] = hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()[:16]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="store the current digest")
    args = parser.parse_args()
    current = {name: digest(name) for name in scenario_names()}
    if args.write:
        STORED.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"wrote {STORED.name}: {len(current)} scenarios")
        return
    stored = json.loads(STORED.read_text())
    changed = {n: sorted(v for v in current[n] if stored.get(n, {}).get(v) != current[n][v])
               for n in current}
    for name, variables in changed.items():
        print(f"{name}: {'identical' if not variables else 'changed ' + ', '.join(variables)}")


if __name__ == "__main__":
    main()
