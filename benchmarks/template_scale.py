"""Validate time and peak RSS of a ~15-line for_each template expanding into 10,000 tags.

Issue 12's target: ``validate`` <= 1.0 s (the median of 5 fresh processes), peak RSS no
more than the 10,000 written-out tags (127 MB). Each run is a fresh ``mplat validate``
process, so its time and RSS (from ``wait4``) are the whole command's, interpreter start-up
and imports included. Then one more fresh process loads the file in-process and times the
loader's stages (parse, expand, schema, build) by wrapping the loader's own stage functions.
``--written-out`` does the same for the same 10,000 lists written out in full.
Run from the checkout: ``python benchmarks/template_scale.py [--written-out]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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

PLATFORMS = (("amd64", "linux/amd64"), ("arm64", "linux/arm64/v8"), ("armv7", "linux/arm/v7"))

STAGES = {
    "parse_document": "parse",
    "expand": "expand",
    "check_document": "schema",
    "check_schema": "schema",  # the loader before the shapes stage
    "build_config": "build",
}
"""The loader's stage functions, by the name it imports them under, and what they are."""


def services(count: int) -> list[str]:
    return [f"svc-{i:03d}" for i in range(count)]


def versions(count: int) -> list[str]:
    return [f"1.{i}" for i in range(count)]


def template(service_count: int, version_count: int) -> str:
    return TEMPLATE.format(
        services=", ".join(services(service_count)),
        versions=", ".join(f'"{v}"' for v in versions(version_count)),
    )


def written_out(service_count: int, version_count: int) -> str:
    """The lists the template expands into, in the same order, each written in full."""
    lines = ["version: 1", "lists:"]
    for service in services(service_count):
        repository = f"registry.example.com/team/{service}"
        for version in versions(version_count):
            lines += [f"  - repository: {repository}", f'    tags: ["{version}"]', "    manifests:"]
            lines += [
                f'      - {{image: "{repository}:{version}-{arch}", platform: {platform}}}'
                for arch, platform in PLATFORMS
            ]
    return "\n".join(lines) + "\n"


def run_validate(path: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """One fresh ``mplat validate``: wall seconds, its own peak RSS in MB, and its output."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "mplat", "validate", "-f", str(path)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        text = out.read().decode(errors="replace")
    if child.returncode != 0:
        raise SystemExit(f"validate failed ({child.returncode}):\n{text}")
    return wall, usage.ru_maxrss / 1024, text.strip()  # Linux reports kilobytes


def stage_split(path: str) -> dict[str, float]:
    """Seconds per loader stage for one load of ``path``, in this (fresh) process."""
    from mplat.config import loader

    spent: dict[str, float] = {}

    def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

        return wrapper

    for name, label in STAGES.items():
        if hasattr(loader, name):
            setattr(loader, name, timed(label, getattr(loader, name)))
    start = time.perf_counter()
    loader.load_config(path)
    spent["load"] = time.perf_counter() - start
    return spent


def measure_split(path: Path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--stages-of", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    split: dict[str, float] = json.loads(done.stdout)
    return split


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="validate processes (default 5)")
    parser.add_argument(
        "--written-out", action="store_true", help="the same 10,000 lists written out in full"
    )
    parser.add_argument("--stages-of", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stages_of:
        print(json.dumps(stage_split(args.stages_of)))
        return 0
    text = written_out(100, 100) if args.written_out else template(100, 100)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        runs = [run_validate(path, env) for _ in range(args.runs)]
        split = measure_split(path, env)
    times = [wall for wall, _, _ in runs]
    rss = [mb for _, mb, _ in runs]
    kind = "written out" if args.written_out else "template"
    print(f"{kind}: {len(text.splitlines())} lines -> {runs[-1][2].rsplit('(', 1)[-1][:-2]}")
    print(
        f"validate wall s: median {statistics.median(times):.2f} "
        f"(range {min(times):.2f}-{max(times):.2f}, {len(times)} runs); "
        f"peak RSS {max(rss):.0f} MB (range {min(rss):.0f}-{max(rss):.0f})"
    )
    stages = ", ".join(
        f"{label} {split.get(label, 0.0):.2f}" for label in dict.fromkeys(STAGES.values())
    )
    print(f"in-process s: {stages}; whole load {split['load']:.2f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
