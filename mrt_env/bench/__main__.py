"""``python -m mrt_env.bench``: the same as ``mrt-bench``."""

import sys

from mrt_env.bench.cli import main

sys.exit(main())
