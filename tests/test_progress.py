"""Progress bars only where someone watches: no carriage-return frames in a log."""

from __future__ import annotations

import io
import sys

from model import progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_no_bar_in_a_log_or_pipe(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    assert progress.where() is None
    with progress.bar(5, desc="runs", file=log) as bar:
        for _ in range(5):
            bar.update()
    assert log.getvalue() == ""


def test_a_bar_on_a_terminal_unless_disabled(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert progress.where() == "terminal"
    with progress.bar(5, desc="runs", file=terminal) as bar:
        bar.update(5)
    assert "runs" in terminal.getvalue() and "\r" in terminal.getvalue()
    quiet = _Terminal()
    with progress.bar(5, enabled=False, desc="runs", file=quiet) as bar:
        bar.update(5)
    assert quiet.getvalue() == ""


def test_a_run_logged_to_a_file_has_no_bar(tmp_path):
    """`povsim run` with stderr redirected to a file: no progress frames."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).parents[1]
    log = tmp_path / "log.txt"
    with log.open("w") as f:
        proc = subprocess.run([sys.executable, "-c", (
            "import model, time; from model import runs\n"
            "s = model.load_scenario()\n"
            "with runs.progress_bar(3, desc='x', unit='year', mininterval=0) as b:\n"
            "    [b.update() or time.sleep(0.01) for _ in range(3)]\n")],
            cwd=root, stderr=f, stdout=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 0
    assert "\r" not in log.read_text()


def test_kernels_are_ready_before_a_bar_starts_timing(monkeypatch):
    """A bar's first estimate is never the first run's compilation: run and
    run_all (in this process) prepare the kernels before their bar starts."""
    from model import runs
    from model.scenario import load_scenario

    events = []
    real_bar = runs.progress_bar
    monkeypatch.setattr(runs, "prepare_kernels", lambda *a, **k: events.append("prepare"))
    monkeypatch.setattr(runs, "progress_bar",
                        lambda *a, **k: events.append("bar") or real_bar(*a, **k))
    scenario = load_scenario()
    runs.run(scenario, [0], progress=False)
    runs.run_all([scenario], [0], workers=1, progress=False)
    assert events == ["prepare", "bar", "prepare", "bar"]
