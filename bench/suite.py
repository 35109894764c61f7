"""``landscape bench`` without the console script, from a checkout: same options, defaults and exit codes.

    python bench/suite.py --quick                                # about a minute on 2 CPU cores
    python bench/suite.py --json bench/results/cpu-2core.json    # refresh the committed results (see README.md)

The suite itself ships with the package (``landscape.bench``); see bench/README.md.
"""

import sys

from landscape.bench import main

if __name__ == "__main__":
    sys.exit(main())
