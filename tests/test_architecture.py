"""The architecture, checked from the code (ARCHITECTURE.md):

- every declared parameter is read somewhere, and every parameter the code
  reads by name is declared;
- every programme declares a capacity, and every delivered programme (not an
  entitlement) a build time;
- random stream ids are unique;
- the arrows between wings point one way (from the code's imports);
- no module exceeds 800 lines.

Each check is a function of the source files, so the tests below also run it
on small made-up sources and see it fail.
"""

from __future__ import annotations

import ast
import enum
from pathlib import Path

import pytest

from model.engine.delivery import settings_from_params
from model.params import Parameters
from model.programmes.base import GENERIC_PARAMETERS
from model.programmes.measures import PROGRAMMES
from model.random import Stream

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "model"
MAX_LINES = 800

# wing (module prefix) -> prefixes it must not import
FORBIDDEN = {
    "model.engine": ("model.programmes", "model.analysis", "model.runs", "model.scenario",
                     "model.cli", "model.tools", "model.results", "model.calibration",
                     "model.sweep"),
    "model.registry": ("model.engine", "model.programmes", "model.analysis", "model.runs",
                       "model.scenario", "model.cli", "model.results"),
    "model.programmes": ("model.analysis", "model.runs", "model.scenario", "model.cli",
                         "model.results"),
    "model.results": ("model.analysis", "model.runs", "model.cli"),
    "model.params": ("model.engine", "model.programmes", "model.analysis", "model.registry"),
    "model.analysis": ("model.sweep", "model.cli"),
    "model.sweep": ("model.cli", "model.calibration"),
}


def sources(folder: Path = MODEL) -> dict[str, str]:
    """Module name -> source text of every module under ``folder``."""
    out = {}
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path.read_text(encoding="utf-8")
    return out


def imports_of(module: str, text: str) -> set[str]:
    """Modules imported by ``text`` (absolute names; ``from a import b`` gives
    ``a`` and ``a.b``)."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[:-node.level] if node.level else []
                base = ".".join(package + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def wrong_arrows(modules: dict[str, str]) -> list[str]:
    """``importer -> imported`` for every import a wing must not make."""
    bad = []
    for name, text in modules.items():
        for wing, banned in FORBIDDEN.items():
            if name == wing or name.startswith(wing + "."):
                for target in sorted(imports_of(name, text)):
                    if any(target == b or target.startswith(b + ".") for b in banned):
                        bad.append(f"{name} -> {target}")
    return bad


def names_read(modules: dict[str, str]) -> set[str]:
    """Parameter names the code reads by a literal: ``p("x")``, ``ctx.p("x")``,
    ``p.has("x")``, ``params.at("x", year)``, ``params.scalar("x", year)``."""
    readers = {"p", "at", "scalar", "has"}
    found = set()
    for text in modules.values():
        for node in ast.walk(ast.parse(text)):
            if (isinstance(node, ast.Call) and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else (
                    func.attr if isinstance(func, ast.Attribute) else None)
                if name in readers:
                    found.add(node.args[0].value)
    return found


def names_composed(programmes=PROGRAMMES) -> set[str]:
    """Parameter names read through a programme's generic keys and the
    delivery model's build time per delivered programme."""
    generic = [key for key in GENERIC_PARAMETERS if key not in ("duration", "life")]
    out = {f"{c.name}.{key}" for c in programmes for key in generic + [c.duration_parameter]}
    delivered = [c.name for c in programmes if not c.entitlement]
    seen = []
    settings_from_params(lambda name: (seen.append(name), 1.0)[1], delivered)
    return out | set(seen)


def unused_declarations(declared: set[str], modules: dict[str, str]) -> list[str]:
    return sorted(declared - names_read(modules) - names_composed())


def undeclared_reads(declared: set[str], modules: dict[str, str]) -> list[str]:
    return sorted(n for n in names_read(modules) if "." in n or "_" in n
                  if n not in declared and _looks_like_parameter(n))


def _looks_like_parameter(name: str) -> bool:
    return name.replace(".", "").replace("_", "").isalnum() and name.islower()


DECLARED = set(Parameters.load().names())


# ---------------------------------------------------------------- the real code

def test_every_declared_parameter_is_read_somewhere():
    assert unused_declarations(DECLARED, sources()) == []


def test_every_parameter_read_by_name_is_declared():
    assert undeclared_reads(DECLARED, sources()) == []


def test_every_programme_declares_a_capacity_and_delivered_ones_a_build_time():
    for c in PROGRAMMES:
        assert f"{c.name}.capacity" in DECLARED, c.name
        if not c.entitlement:
            assert f"{c.name}.build_months" in DECLARED, c.name


def test_stream_ids_are_unique():
    enum.unique(Stream)
    assert all(0 < s < 16 for s in Stream)   # programme streams are stream + 16 * k
    numbers = [c.stream for c in PROGRAMMES]
    assert len(set(numbers)) == len(numbers), numbers
    assert len({c.name for c in PROGRAMMES}) == len(PROGRAMMES)


def test_arrows_point_one_way():
    assert wrong_arrows(sources()) == []


def test_no_module_exceeds_800_lines():
    long = {name: text.count("\n") for name, text in sources().items()
            if text.count("\n") > MAX_LINES}
    assert long == {}


# ---------------------------------------------------------------- the checks can fail

def test_an_undeclared_read_is_found():
    code = {"model.engine.x": 'def f(p):\n    return p("household_exit.no_such_thing")\n'}
    assert undeclared_reads(DECLARED, code) == ["household_exit.no_such_thing"]


def test_an_unused_declaration_is_found():
    code = {name: text for name, text in sources().items()}
    code["model.engine.rules"] = code["model.engine.rules"].replace(
        '"dibao_standard_ratio"', '"some_other_name"')
    assert "dibao_standard_ratio" in unused_declarations(DECLARED, code)


def test_an_engine_module_importing_a_measure_is_found():
    code = {"model.engine.sim": "from model.programmes.measures import PROGRAMMES\n",
            "model.engine.ok": "from model.engine.codes import EXIT\n",
            "model.results": "from model.analysis import compare\n"}
    assert wrong_arrows(code) == ["model.engine.sim -> model.programmes.measures",
                                  "model.engine.sim -> model.programmes.measures.PROGRAMMES",
                                  "model.results -> model.analysis",
                                  "model.results -> model.analysis.compare"]


def test_a_missing_capacity_is_an_error_not_unlimited():
    from model.engine.context import YearParams
    from model.errors import ParameterError
    from model.programmes.base import Programme

    class Undeclared(Programme):
        name, batch, stream = "no_such_programme", "production", 15

    with pytest.raises(ParameterError, match="no_such_programme.capacity"):
        Undeclared().capacity(YearParams(Parameters.load(), 2016))


def test_the_scenario_format_documents_every_target_kind_and_run_key():
    from model.scenario import _RUN, TARGET_KINDS

    text = (ROOT / "scenarios" / "README.md").read_text(encoding="utf-8")
    missing = [key for key in [*TARGET_KINDS, *_RUN] if f"{key} =" not in text]
    assert missing == []
