"""Record -> Dataset: columns read by name, units and long names on every
variable, aggregates only."""

import numpy as np
import pytest

from model.engine.record import COLUMNS, Record
from model.results import to_dataset
from model.runs import registry_for
from model.scenario import load_scenario


@pytest.fixture(scope="module")
def built():
    scenario = load_scenario()
    registry = registry_for(scenario)
    years = np.arange(registry.base_year, scenario.end_year + 1)
    nv = len(registry.villages["village_id"])
    record = Record.empty(years, registry.n_counties, 3, 2, np.zeros(nv, np.int16),
                          np.zeros(registry.n_counties, np.int16))
    # every named column holds its own position + 1, so a mix-up shows
    for field, names in COLUMNS.items():
        array = getattr(record, field)
        for k, name in enumerate(names):
            array[..., Record.col(field, name)] = k + 1
    ds = to_dataset(record, registry, scenario, 0, ["industry", "housing"])
    return ds


def test_named_columns_become_the_variables_of_the_same_name(built):
    for field, names in COLUMNS.items():
        for k, name in enumerate(names):
            variable = {"poverty_line": "poverty_line", "covered_line": "covered_line",
                        "households": "exits_by_batch_households",
                        "people": "exits_by_batch_people",
                        "new_households": "new_households"}.get(name, name)
            assert np.all(built[variable].values == k + 1), (field, name)


def test_every_variable_has_units_and_a_long_name(built):
    for name, var in built.data_vars.items():
        assert var.attrs.get("units"), name
        assert var.attrs.get("long_name"), name


def test_the_seed_leads_every_variable_but_the_static_ones_and_the_flags(built):
    """One seed's dataset: the seed first on what a seed changes, not on
    the registry's figures (rural population, lines, villages) nor on its
    poor-village and poor-county flags."""
    from model.results import STATIC
    assert list(built["seed"].values) == [0]
    unseeded = set(STATIC) | {"poor_village", "poor_county"}
    for name, var in built.data_vars.items():
        assert (var.dims[0] == "seed") == (name not in unseeded), name
    registry = registry_for(load_scenario())
    np.testing.assert_array_equal(built["poor_county"], registry.counties["poor_county"])
    np.testing.assert_array_equal(built["poor_village"], registry.villages["poor_village"])


def test_no_household_dimension(built):
    assert not any(d.startswith("household") for d in built.dims)
    assert built.attrs["code_version"].startswith("povsim ")


def test_xarray_tells_dask_arrays_apart_without_importing_dask(tmp_path):
    """Building and writing a run's dataset loads neither dask nor
    dask.distributed; a dask array made afterwards is still seen as one,
    and chunked and written like one."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, xarray as xr\n"
        "from model.results import write_netcdf\n"
        "write_netcdf(xr.Dataset({'a': ('x', np.arange(3.0))}, coords={'x': [1, 2, 3]}),\n"
        f"             {str(tmp_path / 'a.nc')!r})\n"
        "print('dask' in sys.modules, 'distributed' in sys.modules)\n"
        "import dask.array\n"
        "lazy = xr.DataArray(dask.array.zeros(4, chunks=2), dims='x')\n"
        "print(lazy.chunks is not None, isinstance(lazy.data, dask.array.Array))\n"
        "print(float((lazy + 1).sum().compute()))\n"
        "chunked = xr.Dataset({'c': ('x', np.arange(4.0))}).chunk(x=2)\n"
        f"write_netcdf(chunked, {str(tmp_path / 'c.nc')!r})\n"
        f"print(xr.open_dataset({str(tmp_path / 'c.nc')!r}, chunks={{}}).c.chunks)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split("\n")[:4] == ["False False", "True True", "4.0", "((4,),)"]
    assert (tmp_path / "a.nc").is_file()


def test_the_chart_modules_load_without_numba():
    """The helper that draws a run's charts loads the chart modules while
    the run simulates: they, the dataset's module and a scenario's targets
    need no numba (the programmes, which load their kernels, are imported
    only when a scenario is read)."""
    import subprocess
    import sys

    from model.cli import CHART_MODULES

    code = (f"import sys\nfor name in {CHART_MODULES!r}:\n    __import__(name)\n"
            "print('numba' in sys.modules)\n"
            "from model.scenario import load_scenario\nload_scenario()\n"
            "print('numba' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "True"]
