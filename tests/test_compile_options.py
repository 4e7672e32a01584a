"""How the model's numba functions are compiled (``model.random``: CACHED,
INLINE, INLINE_EACH):

- every numba function of the model is compiled without a C entry point
  (numba's cfunc wrapper, for passing a function to compiled code as a
  value, which the model never does);
- the helpers that only compiled code calls (INLINE, INLINE_EACH) are
  compiled without a Python entry point either. A call of one from Python
  would crash the interpreter (numba calls a null entry point), not raise:
  Python code calls ``helper.py_func``. The sources of the package and of
  the tests are read for such calls; the check is also run on small
  made-up sources, where it must find them.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from model import precompile

ROOT = Path(__file__).resolve().parents[1]
NO_PYTHON_ENTRY = ("INLINE", "INLINE_EACH")  # model.random's options of the helpers


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _sources() -> dict[str, str]:
    paths = sorted((ROOT / "model").rglob("*.py")) + sorted((ROOT / "tests").rglob("*.py"))
    return {_module_name(p): p.read_text(encoding="utf-8") for p in paths}


def _options_of(function: ast.FunctionDef) -> str | None:
    """The name of the options an ``@njit(**OPTIONS)`` decorator passes,
    ``"njit"`` for another numba decorator, None for a Python function."""
    for decorator in function.decorator_list:
        call = decorator.func if isinstance(decorator, ast.Call) else decorator
        if "njit" in ast.unparse(call):
            keywords = decorator.keywords if isinstance(decorator, ast.Call) else []
            spread = [k.value for k in keywords if k.arg is None and isinstance(k.value, ast.Name)]
            return spread[0].id if spread else "njit"
    return None


def helpers(trees: dict[str, ast.Module]) -> set[tuple[str, str]]:
    """(module, name) of the functions compiled without a Python entry point."""
    return {(module, node.name) for module, tree in trees.items() for node in tree.body
            if isinstance(node, ast.FunctionDef) and _options_of(node) in NO_PYTHON_ENTRY}


def python_calls_of_helpers(sources: dict[str, str]) -> list[str]:
    """``module:line name`` of each call of a helper (:func:`helpers`) from
    Python code (outside the numba functions) of ``sources`` (module name ->
    text); the helper is named as the calling module imports it (``from M
    import f``, ``from P import M`` then ``M.f``) or defines it."""
    trees = {module: ast.parse(text) for module, text in sources.items()}
    known = helpers(trees)
    found = []
    for module, tree in trees.items():
        names = {name: name for m, name in known if m == module}
        modules = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    local = alias.asname or alias.name
                    if (node.module, alias.name) in known:
                        names[local] = alias.name
                    modules[local] = f"{node.module}.{alias.name}"
        for call in _python_calls(tree):
            f = call.func
            if isinstance(f, ast.Name) and f.id in names:
                found.append(f"{module}:{call.lineno} {names[f.id]}")
            elif (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name)
                  and (modules.get(f.value.id), f.attr) in known):
                found.append(f"{module}:{call.lineno} {f.attr}")
    return found


def _python_calls(node: ast.AST):
    """The calls in ``node``, but not in the numba functions it holds."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef) and _options_of(child) is not None:
            continue
        if isinstance(child, ast.Call):
            yield child
        yield from _python_calls(child)


def test_no_python_code_calls_a_helper_without_a_python_entry_point():
    sources = _sources()
    assert len(helpers({m: ast.parse(t) for m, t in sources.items()})) > 20
    assert python_calls_of_helpers(sources) == []


def test_the_check_finds_python_calls_of_helpers():
    sources = {
        "model.rng": ("from numba import njit\nfrom model.options import INLINE\n"
                      "@njit(**INLINE)\ndef bits(x):\n    return x\n"
                      "def twice(x):\n    return bits(x) + bits.py_func(x)\n"),
        "model.use": ("from numba import njit\nfrom model.rng import bits as b\n"
                      "from model import rng\n"
                      "@njit(cache=True)\ndef kernel(x):\n    return b(x)\n"
                      "def python(x):\n    @njit\n    def inner(y):\n        return b(y)\n"
                      "    return inner(x) + rng.bits(x)\n"
                      "VALUE = b(1)\n"),
    }
    assert python_calls_of_helpers(sources) == [
        "model.rng:7 bits", "model.use:11 bits", "model.use:12 bits"]


def test_every_numba_function_is_compiled_without_a_c_entry_point():
    modules = [*precompile.MODULES, "model.registry.draws"]
    sources = {m: ast.parse((ROOT / (m.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
               for m in modules}
    without_python = {name for _, name in helpers(sources)}
    seen = 0
    for module in modules:
        for name, value in vars(importlib.import_module(module)).items():
            function = getattr(value, "kernel", value)
            if not hasattr(function, "targetoptions") or function.py_func.__module__ != module:
                continue
            options = function.targetoptions
            if options.get("inline") == "always":
                continue  # compiled only inside the functions calling it
            seen += 1
            assert options.get("no_cfunc_wrapper"), f"{module}.{name}"
            assert bool(options.get("no_cpython_wrapper")) == (name in without_python), \
                f"{module}.{name}"
    assert seen > 60
