"""The CI check of ``povsim bench --check`` fails when the whole year takes
more than twice the stored kernel-times; no timing is asserted here (the
measured figures are replaced)."""

from __future__ import annotations

import json

from model.tools import bench


def fake(monkeypatch, tmp_path, kernel_rate: float, year_seconds: float, stored: float):
    monkeypatch.setattr(bench, "bench_kernel", lambda n, repeats: {"kernel_1t": kernel_rate})
    monkeypatch.setattr(bench, "bench_year", lambda n, repeats: (year_seconds, 0.0))
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"households": bench.CHECK_SIZE, "year_over_kernel": stored}))
    monkeypatch.setattr(bench, "BASELINE", baseline)


def test_check_passes_within_twice_the_baseline(monkeypatch, tmp_path, capsys):
    # the year takes 1e6 / 1e5 x 1.0 = 10 kernel-times against a baseline of 6
    fake(monkeypatch, tmp_path, 1e6, bench.CHECK_SIZE / 1e5, 6.0)
    assert bench.check(1, save=False) == 0
    assert "ok" in capsys.readouterr().out


def test_check_fails_beyond_twice_the_baseline(monkeypatch, tmp_path, capsys):
    fake(monkeypatch, tmp_path, 1e6, bench.CHECK_SIZE / 1e5, 4.9)
    assert bench.check(1, save=False) == 1
    assert "REGRESSED" in capsys.readouterr().out


def test_the_stored_baseline_is_read():
    stored = json.loads(bench.BASELINE.read_text())
    assert stored["households"] == bench.CHECK_SIZE and stored["year_over_kernel"] > 1
