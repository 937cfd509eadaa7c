"""The benchmark harness, run from a checkout: ``python bench/ctcc_bench.py``.

The harness itself is the package ``ctcc/_bench/`` (so that ``python -m ctcc
bench`` works from an installed package too); this wrapper only makes the results
go to ``bench/results/latest.json`` unless ``--json``/``--no-json`` is given
(``--help`` names that default).
"""

import os
import sys

from ctcc._bench import main

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    target = os.path.join(here, "results", "latest.json")
    # Relative when possible: the path is recorded in the JSON itself.
    relative = os.path.relpath(target)
    raise SystemExit(main(sys.argv[1:], target if relative.startswith("..") else relative))
