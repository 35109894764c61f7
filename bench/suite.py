"""The whole benchmark suite, one table: the same as ``landscape bench`` (see landscape/benchcmd.py).

    python bench/suite.py --quick                    # about a minute on 2 CPU cores
    python bench/suite.py                            # the full suite (~10 min on 2 CPU cores)
    python bench/suite.py --only grid,startup --tag mybox --json /tmp/suite.json

Runs bench/roofline.py, then grid.py, trajectories.py, sweep.py and startup.py, each as a fresh process with
``--json`` (and ``--quick``), and merges their JSON into ``bench/results/<tag>[-quick].json`` plus a Markdown table
next to it (``.md``). See bench/README.md.
"""

import sys
from pathlib import Path

from landscape.benchcmd import main

if __name__ == "__main__":
    sys.exit(main(bench=Path(__file__).resolve().parent))
