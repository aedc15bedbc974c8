"""The run folder's files: written whole, even by two runs at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time


def test_two_runs_writing_one_file_at_once_never_trip_over_each_other(tmp_path):
    # Two experiments sharing an --out both write its settings.json: with one temporary
    # name for both, one renamed the other's half-written file or found its own gone.
    target = tmp_path / "settings.json"
    writer = textwrap.dedent(
        f"""
        import json, sys, time
        from pathlib import Path
        from mrt_env.runfiles import write_text_atomic
        while time.time() < float(sys.argv[2]):  # both start together
            time.sleep(0.001)
        for i in range(2000):
            write_text_atomic(Path({str(target)!r}), json.dumps({{"run": sys.argv[1], "i": i}}))
        """
    )
    start = str(time.time() + 3)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", writer, name, start], stderr=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert json.loads(target.read_text())["i"] == 1999  # whole: the last version of one run
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temporary left
