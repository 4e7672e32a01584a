"""compare's runs streamed into a store (model/run_store.py): the outputs
built from the store are those built in memory, a resumed store runs only
what is not done (a half-written slice is redone), and a store of other runs
is never mixed in."""

from __future__ import annotations

import dataclasses

import pytest
import xarray as xr

from model import results, runs
from model.analysis import compare, report
from model.cli import main
from model.run_store import STORE, RunStore, run_into
from model.scenario import load_scenario
from model.task_store import DONE, FAILED, NOT_RUN

SEEDS = [5, 6, 7]
NAMES = ["default", "ruyuan-no-pv"]


@pytest.fixture(scope="module")
def scenarios():
    return [dataclasses.replace(load_scenario(), scale=0.3),
            dataclasses.replace(load_scenario("ruyuan-no-pv"), scale=0.3)]


@pytest.fixture(scope="module")
def in_memory(scenarios):
    """The runs as compare held them in memory before the store."""
    return runs.run_all(scenarios, SEEDS, workers=1, progress=False)


def _outputs(datasets) -> tuple[xr.Dataset, str, str]:
    cmp = compare.compare(datasets, NAMES)
    return cmp, report.csv_text(cmp), report.markdown(cmp)


def test_kernels_are_compiled_before_the_progress_bar_starts(scenarios, tmp_path, monkeypatch):
    from model import run_store

    events = []
    monkeypatch.setattr(runs, "compile_kernels_first", lambda: events.append("compile"))
    bar = run_store.progress_bar
    monkeypatch.setattr(run_store, "progress_bar",
                        lambda *a, **k: events.append("bar") or bar(*a, **k))
    store, _ = RunStore.for_runs(tmp_path, scenarios[:1], NAMES[:1], SEEDS[:1])
    run_into(store, scenarios[:1], workers=1, progress=False)
    assert events[:2] == ["compile", "bar"]


def test_runs_read_back_from_the_store_are_those_held_in_memory(scenarios, in_memory, tmp_path):
    store, existed = RunStore.for_runs(tmp_path, scenarios, NAMES, SEEDS)
    assert not existed and len(store.todo_indices()) == 6
    done = run_into(store, scenarios, workers=1, progress=False)
    assert (done.ran, done.skipped) == (6, 0)
    for k, want in enumerate(in_memory):
        got = store.dataset(k)
        xr.testing.assert_identical(got, want)
        assert list(got.variables) == list(want.variables)
        assert {v: got[v].dtype for v in got.variables} == \
            {v: want[v].dtype for v in want.variables}
    cmp, csv_text, md = _outputs([store.dataset(k) for k in range(2)])
    want_cmp, want_csv, want_md = _outputs(in_memory)
    xr.testing.assert_identical(cmp, want_cmp)
    assert csv_text == want_csv and md == want_md
    results.write_netcdf(cmp, tmp_path / "a.nc")
    results.write_netcdf(want_cmp, tmp_path / "b.nc")
    assert (tmp_path / "a.nc").read_bytes() == (tmp_path / "b.nc").read_bytes()


def test_one_seed_reads_back_as_the_run_itself(scenarios, tmp_path):
    store, _ = RunStore.for_runs(tmp_path, scenarios[:1], NAMES[:1], [5])
    run_into(store, scenarios[:1], workers=1, progress=False)
    want = runs.run_all(scenarios[:1], [5], workers=1, progress=False)[0]
    got = store.dataset(0)
    xr.testing.assert_identical(got, want)
    assert list(got.variables) == list(want.variables)


def test_resume_runs_only_what_is_not_done_and_redoes_a_half_written_slice(
        scenarios, in_memory, tmp_path):
    store, _ = RunStore.for_runs(tmp_path, scenarios, NAMES, SEEDS)
    # a first compare cut short: two runs written ...
    store.write(0, 0, in_memory[0].isel(seed=[0]))
    store.write(1, 2, in_memory[1].isel(seed=[2]))
    # ... one written but for its status (killed between the two), with wrong numbers ...
    store.write(0, 1, in_memory[0].isel(seed=[1]).map(
        lambda v: v * 0 - 1 if v.dtype.kind == "f" else v))
    store._status[0, 1] = NOT_RUN
    # ... one failed, and a scenario group left half made
    store.fail(0, 2, "RuntimeError: boom")
    (store.path / "run_9.partial").mkdir()
    again, existed = RunStore.for_runs(tmp_path, scenarios, NAMES, SEEDS, resume=True)
    assert existed
    assert again.failures()["0-2"]["error"] == "RuntimeError: boom"
    assert (again.status() == [[DONE, NOT_RUN, FAILED], [NOT_RUN, NOT_RUN, DONE]]).all()
    assert again.todo_indices() == [(0, 1), (0, 2), (1, 0), (1, 1)]
    done = run_into(again, scenarios, workers=1, progress=False)
    assert (done.ran, done.skipped) == (4, 2)
    assert again.failures() == {} and (again.status() == DONE).all()
    for k in range(2):
        xr.testing.assert_identical(again.dataset(k), in_memory[k])
    assert run_into(again, scenarios, workers=1, progress=False).ran == 0


def test_a_store_of_other_runs_is_replaced_or_refused_with_resume(scenarios, tmp_path):
    store, _ = RunStore.for_runs(tmp_path, scenarios, NAMES, SEEDS)
    store.write(0, 0, runs.run_all(scenarios[:1], [5], workers=1, progress=False)[0])
    other = [dataclasses.replace(scenarios[0], scale=0.25), scenarios[1]]
    with pytest.raises(Exception, match="holds another comparison"):
        RunStore.for_runs(tmp_path, other, NAMES, SEEDS, resume=True)
    with pytest.raises(Exception, match="holds another comparison"):
        RunStore.for_runs(tmp_path, scenarios, NAMES, [5, 6], resume=True)
    (tmp_path / f"{STORE}.old-1").mkdir()    # a removal cut short by a kill
    fresh, existed = RunStore.for_runs(tmp_path, other, NAMES, SEEDS)
    assert not existed and (fresh.status() == NOT_RUN).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORE]
    with pytest.raises(Exception, match="no comparison store"):
        RunStore.for_runs(tmp_path / "none", scenarios, NAMES, SEEDS, resume=True)


def test_compare_writes_its_outputs_from_the_store_and_resumes(in_memory, tmp_path, capsys):
    args = ["compare", "default", "--seed", "5", "--seeds", "2", "--scale", "0.3",
            "--workers", "1", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "ran 2 runs, skipped 0 already done" in err
    out = tmp_path / "out"
    cmp = compare.compare([in_memory[0].isel(seed=[0, 1])], NAMES[:1])   # seeds 5 and 6
    assert (out / "compare.csv").read_text(encoding="utf-8") == report.csv_text(cmp)
    assert (out / "summary.md").read_text(encoding="utf-8") == report.markdown(cmp)
    first = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    store = RunStore.open(out)
    store._status[0, 1] = NOT_RUN           # as if killed before this run's status
    assert main(args + ["--resume"]) == 0
    assert "ran 1 runs, skipped 1 already done" in capsys.readouterr().err
    again = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert again == first                   # every file, the manifest's hashes too


def test_resume_without_a_store_is_an_error_before_any_work(tmp_path, capsys):
    code = main(["compare", "--seeds", "1", "--workers", "1", "--resume", "--out",
                 str(tmp_path / "none")])
    assert code == 2
    err = capsys.readouterr().err
    assert "--resume: no comparison store in" in err and "Traceback" not in err
    assert not (tmp_path / "none" / STORE).exists()
