"""Long ("tidy") tables of a run, one group of variables at a time.

``ds.to_dataframe()`` on a run builds the Cartesian product of every
dimension (seed x year x county x category x programme x batch x village x
month), which for a prefecture and 20 seeds asks for tens of GiB. Here the
variables are grouped by their dimensions, and each group becomes one table
with a row per combination of *its own* dimensions and a column per
variable::

    import model
    ds = model.run(model.load_scenario("xiangxi"), seeds=range(20))
    people = model.tidy(ds, "registered_people")   # seed, year, county, category + the group
    model.tidy_groups(ds)                          # the groups: name -> variables

A table's ``attrs`` hold each column's ``units`` and ``long_name``, the
scenario, the registry, and ``scale`` (the share of households simulated:
counts of a sample are at that scale).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import xarray as xr


def _group_name(dims: tuple[str, ...]) -> str:
    return " x ".join(dims) if dims else "scalar"


def tidy_groups(ds: xr.Dataset) -> dict[str, list[str]]:
    """The dataset's variables grouped by their dimensions.

    Returns
    -------
    dict
        Group name (its dimensions joined by " x ", e.g.
        ``"seed x year x county x category"``) -> variable names, in the
        dataset's order.
    """
    out: dict[str, list[str]] = {}
    for name, var in ds.data_vars.items():
        out.setdefault(_group_name(var.dims), []).append(name)
    return out


def tidy(ds: xr.Dataset, group: str | Iterable[str] | None = None,
         ) -> pd.DataFrame | dict[str, pd.DataFrame]:
    """A long table of one group of variables (or of every group).

    Parameters
    ----------
    ds : xarray.Dataset
        A run (:func:`model.run`) or any dataset.
    group : str or list of str, optional
        A variable name (its whole group: every variable with the same
        dimensions), a group name from :func:`tidy_groups`, or a list of
        variable names sharing their dimensions. None: every group.

    Returns
    -------
    pandas.DataFrame or dict of str to pandas.DataFrame
        One row per combination of the group's dimensions (its coordinates
        as columns), one column per variable; a dict by group name when
        ``group`` is None.

    Raises
    ------
    KeyError
        An unknown variable or group (with the close matches).
    ValueError
        Listed variables that do not share their dimensions.
    """
    groups = tidy_groups(ds)
    if group is None:
        return {name: _table(ds, names) for name, names in groups.items()}
    if isinstance(group, str):
        if group in groups:
            return _table(ds, groups[group])
        if group not in ds.data_vars:
            from model.errors import close_match
            raise KeyError(f"{group!r} is neither a variable nor a group of this dataset"
                           + close_match(group, list(ds.data_vars) + list(groups)))
        return _table(ds, groups[_group_name(ds[group].dims)])
    names = list(group)
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        raise KeyError(f"not variables of this dataset: {', '.join(missing)}")
    dims = {ds[n].dims for n in names}
    if len(dims) > 1:
        raise ValueError("variables of one table must share their dimensions; these have "
                         + "; ".join(f"{n}: {', '.join(ds[n].dims)}" for n in names))
    return _table(ds, names)


def _table(ds: xr.Dataset, names: list[str]) -> pd.DataFrame:
    part = ds[names]
    dims = list(part[names[0]].dims)
    if dims:
        frame = part.reset_coords(drop=True).to_dataframe(dim_order=dims).reset_index()
    else:
        frame = pd.DataFrame({n: [part[n].item()] for n in names})
    frame.attrs = {
        "units": {n: str(ds[n].attrs.get("units", "")) for n in [*dims, *names]
                  if n in ds.variables},
        "long_name": {n: str(ds[n].attrs.get("long_name", "")) for n in [*dims, *names]
                      if n in ds.variables},
        **{k: ds.attrs[k] for k in ("scenario", "registry", "scale", "code_version")
           if k in ds.attrs},
    }
    return frame
