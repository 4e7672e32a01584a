"""Charts of one run (``povsim run``), drawn like those of a comparison
(:mod:`model.analysis.charts`)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from model.atomic import atomic_write


def poor_by_year(ds: xr.Dataset, path: Path, lang: str = "en", font: str | None = None,
                 ) -> list[Path]:
    """Registered poor people by year, written as PNG to ``path`` and as SVG
    beside it.

    The median over seeds (or the one seed), the 10-90 % band when there are
    several seeds, the plan's remaining count, interim targets and the zero
    deadline, counts at full size for a sample run, with a caption (seeds,
    scale, calibration, version, date): the fan chart of
    :func:`model.analysis.charts.registered_poor` for this one run.

    Parameters
    ----------
    ds : xarray.Dataset
        A run (:func:`model.runs.run`).
    path : Path
        The PNG file (each file written atomically).
    lang : {"en", "zh"}
        Label language (Chinese needs a CJK font, see
        :func:`model.analysis.charts.chart_language`).
    font : str, optional
        The CJK font family for Chinese labels.

    Returns
    -------
    list of Path
        The files written: the PNG, then the SVG.
    """
    from model.analysis.charts import registered_poor, style
    from model.analysis.compare import compare

    path = Path(path)
    written = []
    with style(font):
        fig = registered_poor(compare([ds]), lang)
        for target, fmt in ((path, "png"), (path.with_suffix(".svg"), "svg")):
            atomic_write(target, lambda tmp, f=fmt: fig.savefig(
                tmp, format=f, metadata={"Date": None} if f == "svg" else None))
            written.append(target)
    return written
