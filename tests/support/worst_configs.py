"""Config inputs at the loader's own limits (MAX_FILE_BYTES, MAX_NODES), and a child process
that loads one and reports its CPU time.

The fuzz suite runs them as a hang guard; benchmarks/config_limits.py prints their figures.
Each is a Python expression over MAX_FILE_BYTES and MAX_NODES, evaluated in the child.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from tests.support.paths import ROOT

WORST_CASES = {
    "MAX_NODES - 10 written values": '"a: [" + ",".join(["1"] * (MAX_NODES - 10)) + "]\\n"',
    "MAX_FILE_BYTES of folded lines": '"a: >\\n" + "  x\\n" * ((MAX_FILE_BYTES - 16) // 4)',
    # ruamel's round-trip scanner gathers blank lines as comment text, quadratically.
    "MAX_FILE_BYTES of blank lines": '"\\n" * MAX_FILE_BYTES',
}

_CHILD = """
import json, signal, sys, time
from mplat.config.loader import MAX_FILE_BYTES, MAX_NODES, load_config_text
from mplat.config.model import ConfigError
text = {expression}
assert len(text.encode()) <= MAX_FILE_BYTES
def stop(*_):
    raise TimeoutError
signal.signal(signal.SIGPROF, stop)
signal.setitimer(signal.ITIMER_PROF, {budget} + 0.2)  # counts CPU time, as "elapsed" does
started = time.process_time()
try:
    load_config_text(text, "worst.yaml")
    outcome = "config"
except ConfigError as exc:
    outcome = str(exc).splitlines()[0]
except TimeoutError:
    outcome = "still running"
print(json.dumps({{"elapsed": time.process_time() - started, "outcome": outcome}}))
"""


@dataclass(frozen=True)
class WorstRun:
    elapsed: float
    """CPU seconds of the load alone (not the interpreter's start)."""
    outcome: str
    """"config", the first line of the ConfigError, or "still running" when cut at the budget."""


def load_worst_case(name: str, budget: float) -> WorstRun:
    """Load one worst case in a child process, cut off after ``budget`` CPU seconds."""
    code = _CHILD.format(expression=WORST_CASES[name], budget=budget)
    child = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=budget * 4 + 60,
        cwd=ROOT,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"{name}: the child failed: {child.stderr}")
    result = json.loads(child.stdout)
    return WorstRun(result["elapsed"], result["outcome"])
