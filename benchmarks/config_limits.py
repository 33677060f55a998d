"""CPU seconds mplat's config loader spends on inputs at its own limits.

The fuzz suite only checks that these loads finish (a hang guard); how fast they are is a
figure to watch, printed here. Run from the checkout: ``python benchmarks/config_limits.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.worst_configs import WORST_CASES, load_worst_case


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="loads per case (default 3)")
    parser.add_argument("--budget", type=float, default=120.0, help="CPU s before a load is cut")
    args = parser.parse_args(argv)
    print(f"{'case':<34} {'min CPU s':>10} {'max CPU s':>10}  outcome")
    for name in WORST_CASES:
        runs = [load_worst_case(name, args.budget) for _ in range(args.runs)]
        times = [r.elapsed for r in runs]
        print(f"{name:<34} {min(times):>10.2f} {max(times):>10.2f}  {runs[0].outcome[:60]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
