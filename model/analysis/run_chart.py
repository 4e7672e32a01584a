"""Charts of one run (``povsim run``), drawn like those of a comparison
(:mod:`model.analysis.charts`)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from model.atomic import atomic_write


def poor_by_year(ds: xr.Dataset, path: Path, lang: str = "en") -> None:
    """Registered poor people by year, written as PNG to ``path``.

    The median over seeds, the 10-90 % band when there are several seeds,
    the plan's remaining count (from its yearly exits, times the run's
    scale), interim targets and the zero deadline: the fan chart of
    :func:`model.analysis.charts.registered_poor` for this one run.

    Parameters
    ----------
    ds : xarray.Dataset
        A run (:func:`model.runs.run`).
    path : Path
        The PNG file (written atomically).
    lang : {"en", "zh"}
        Label language (Chinese needs a CJK font, see
        :func:`model.analysis.charts.chart_language`).
    """
    from model.analysis.charts import registered_poor
    from model.analysis.compare import compare

    fig = registered_poor(compare([ds]), lang)
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
