"""``python -m mrt_env.training``: the same as ``mrt-train``."""

import sys

from mrt_env.training.cli import main

sys.exit(main())
