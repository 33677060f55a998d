"""Validate time and peak RSS of a ~15-line for_each template expanding into 10,000 tags.

Issue 12's target: ``validate`` <= 1.0 s, peak RSS no more than the 10,000 written-out tags
(127 MB). Each run is a fresh ``mplat validate`` process, so RSS is the whole command's.
Run from the checkout: ``python benchmarks/template_scale.py``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = """\
version: 1
variables:
  registry: registry.example.com
  versions: [{versions}]
lists:
  - for_each:
      service: [{services}]
      version: ${{versions}}
    repository: ${{registry}}/team/${{service}}
    tags: ["${{version}}"]
    manifests:
      - {{image: "${{registry}}/team/${{service}}:${{version}}-amd64", platform: linux/amd64}}
      - {{image: "${{registry}}/team/${{service}}:${{version}}-arm64", platform: linux/arm64/v8}}
      - {{image: "${{registry}}/team/${{service}}:${{version}}-armv7", platform: linux/arm/v7}}
"""


def template(services: int, versions: int) -> str:
    return TEMPLATE.format(
        services=", ".join(f"svc-{i:03d}" for i in range(services)),
        versions=", ".join(f'"1.{i}"' for i in range(versions)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="validate runs (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.yaml"
        path.write_text(template(100, 100), encoding="utf-8")
        lines = len(path.read_text(encoding="utf-8").splitlines())
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "mplat", "validate", "-f", str(path)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                print(done.stdout + done.stderr, file=sys.stderr)
                return 1
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"template: {lines} lines -> {done.stdout.strip().rsplit('(', 1)[-1].rstrip(').')}")
    print(f"validate wall s: min {min(times):.2f} max {max(times):.2f}; peak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
