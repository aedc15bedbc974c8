"""mrt-bench: compare exploration strategies by regret, with tables and plots.

``mrt-bench`` (or :func:`run` with a :class:`BenchConfig`) lets each strategy solve each
problem of each env and writes ``results.jsonl`` (one row per attempt, resumable),
``summary.md`` / ``summary.csv`` (mean ± 95% CI per env and strategy) and PNG plots.

=====================  ========================================================
module                 job
=====================  ========================================================
:mod:`.config`         :class:`BenchConfig`, the command's settings (its ``--help``)
:mod:`.strategies`     ``--strategies`` entries: names, ``module:Class``, ``(k=v)``
:mod:`.runner`         the attempt loop and ``results.jsonl``
:mod:`.report`         statistics, tables and plots from the rows
:mod:`.cli`            the command
=====================  ========================================================
"""

from mrt_env.bench.cli import main, run
from mrt_env.bench.config import BenchConfig

__all__ = ["BenchConfig", "main", "run"]
