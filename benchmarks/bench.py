#!/usr/bin/env python3
"""End-to-end performance benchmark of mplat against Debian's real docker-registry (issue 6).

It answers two questions with figures from one run on one machine: does a no-op plan cost
about what the registry needs to answer it (compared with the registry's own HEAD floor,
measured with ``ab -k -i`` in the same run), and does an apply of many new lists beat a
scripted ``docker manifest create/push`` loop by a wide margin. Every mplat step runs as a
subprocess, exactly as a user would run it, so interpreter start-up and imports are counted.

Requests are counted on the registry's side (its access log, by User-Agent), not by mplat,
so the count is what the registry actually served. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.delayproxy import DelayProxy  # noqa: E402
from tests.support.registry import RegistryServer  # noqa: E402

REPOSITORY = "bench/app"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# The same four types mplat sends, so the registry does the same negotiation for ab.
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        DOCKER_MANIFEST,
    )
)
# (tag suffix, architecture, variant): three platforms per list.
PLATFORMS = (("amd64", "amd64", None), ("arm64", "arm64", None), ("armv7", "arm", "v7"))

# Targets from issue 6.
TARGET_NOOP_RATIO = 2.0
TARGET_APPLY_SPEEDUP = 20.0
TARGET_BIG_RSS_MB = 150.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


# --------------------------------------------------------------------------------------------
# Seeding: many small, valid Docker v2 images straight over the registry API


@dataclass(frozen=True)
class Layer:
    blob: bytes
    diff_id: str


def shared_layer() -> Layer:
    """One tiny gzip'd payload every image shares: seeding pays for configs, not layers."""
    raw = b"mplat benchmark layer\n" * 32
    return Layer(gzip.compress(raw, mtime=0), sha256_digest(raw))


def image_bodies(
    i: int, arch: str, variant: str | None, layer: Layer, salt: str
) -> tuple[bytes, bytes]:
    """(config, manifest) for list ``i`` on one platform; ``salt`` makes a different image."""
    config: dict[str, Any] = {
        "architecture": arch,
        "os": "linux",
        "config": {"Labels": {"org.mplat.bench.list": str(i), "org.mplat.bench.salt": salt}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    }
    if variant:
        config["variant"] = variant
    config_bytes = canonical_json(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG,
            "size": len(config_bytes),
            "digest": sha256_digest(config_bytes),
        },
        "layers": [
            {
                "mediaType": DOCKER_LAYER,
                "size": len(layer.blob),
                "digest": sha256_digest(layer.blob),
            }
        ],
    }
    return config_bytes, canonical_json(manifest)


async def _upload_blob(client: httpx.AsyncClient, data: bytes) -> None:
    digest = sha256_digest(data)
    start = await client.post(f"/v2/{REPOSITORY}/blobs/uploads/", headers={"Content-Length": "0"})
    if start.status_code != 202:
        raise RuntimeError(f"blob upload refused: {start.status_code} {start.text}")
    location = start.headers["location"]
    sep = "&" if "?" in location else "?"
    put = await client.put(
        f"{location}{sep}digest={digest}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if put.status_code != 201:
        raise RuntimeError(f"blob upload failed: {put.status_code} {put.text}")


async def _seed(base_url: str, indices: Sequence[int], salt: str, connections: int) -> int:
    layer = shared_layer()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:
        head = await client.head(f"/v2/{REPOSITORY}/blobs/{sha256_digest(layer.blob)}")
        if head.status_code != 200:
            await _upload_blob(client, layer.blob)
        gate = asyncio.Semaphore(connections * 2)

        async def one(i: int, suffix: str, arch: str, variant: str | None) -> None:
            config, manifest = image_bodies(i, arch, variant, layer, salt)
            async with gate:
                await _upload_blob(client, config)
                resp = await client.put(
                    f"/v2/{REPOSITORY}/manifests/v{i}-{suffix}",
                    content=manifest,
                    headers={"Content-Type": DOCKER_MANIFEST},
                )
                if resp.status_code != 201:
                    raise RuntimeError(f"manifest PUT failed: {resp.status_code} {resp.text}")

        jobs = [one(i, *p) for i in indices for p in PLATFORMS]
        await asyncio.gather(*jobs)
        return len(jobs)


def seed_sources(
    base_url: str, indices: Sequence[int], salt: str = "", connections: int = 8
) -> int:
    """Push the three source images of each list index; returns how many images."""
    return asyncio.run(_seed(base_url, indices, salt, connections))


def change_amd64(base_url: str, indices: Sequence[int]) -> None:
    """Re-tag ``v{i}-amd64`` to a different image: what a rebuild of one platform does."""
    layer = shared_layer()

    async def run() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
            for i in indices:
                config, manifest = image_bodies(i, "amd64", None, layer, "changed")
                await _upload_blob(client, config)
                resp = await client.put(
                    f"/v2/{REPOSITORY}/manifests/v{i}-amd64",
                    content=manifest,
                    headers={"Content-Type": DOCKER_MANIFEST},
                )
                resp.raise_for_status()

    asyncio.run(run())


# --------------------------------------------------------------------------------------------
# mplat configuration files


def write_config(
    path: Path,
    registry: str,
    sources: Iterable[int],
    *,
    tag_prefix: str = "v",
    tags_per_list: int = 1,
    source_count: int | None = None,
    settings: Sequence[str] = ("insecure: true",),
) -> int:
    """One list per source index; list ``j`` uses the sources of ``j % source_count``.

    ``settings`` are the lines of the registry's entry under ``registries:``.

    Written as plain text rather than through a YAML library: a generated file is what a
    user's templating would produce, and this keeps the benchmark free of extra imports.
    Returns the number of tags.
    """
    lines = [
        "version: 1",
        "registries:",
        f'  "{registry}":',
        *(f"    {line}" for line in settings),
        "defaults:",
        "  format: oci",
        "lists:",
    ]
    tags = 0
    for j in sources:
        i = j % source_count if source_count else j
        names = (
            [f"{tag_prefix}{j}"]
            if tags_per_list == 1
            else [f"{tag_prefix}{j}-{k}" for k in range(tags_per_list)]
        )
        tags += len(names)
        lines.append(f"  - repository: {registry}/{REPOSITORY}")
        lines.append(f"    tags: [{', '.join(names)}]")
        lines.append("    manifests:")
        for suffix, _arch, _variant in PLATFORMS:
            lines.append(f"      - image: {registry}/{REPOSITORY}:v{i}-{suffix}")
    path.write_text("\n".join(lines) + "\n")
    return tags


# --------------------------------------------------------------------------------------------
# Running commands: wall time, peak RSS, requests the registry saw


@dataclass
class Run:
    """One child process: what it cost and what it printed (to files, so nothing blocks)."""

    argv: list[str]
    code: int
    wall: float
    maxrss_mb: float
    cpu: float  # the child's user + system seconds
    server_cpu: float  # the registry's user + system seconds meanwhile
    stdout: str
    stderr: str


def process_cpu(pid: int | None) -> float:
    """User + system CPU seconds a live process has used, from /proc; 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)"; fields[0] is the state
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(
    argv: Sequence[str],
    workdir: Path,
    env: dict[str, str] | None = None,
    server_pid: int | None = None,
) -> Run:
    """Run one command to completion; peak RSS and CPU are that child's own, from wait4()."""
    out_path = workdir / "last.out"
    err_path = workdir / "last.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        server_before = process_cpu(server_pid)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=workdir
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        server_cpu = process_cpu(server_pid) - server_before
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again.
    return Run(
        list(argv),
        proc.returncode,
        wall,
        usage.ru_maxrss / 1024.0,  # Linux reports kilobytes.
        usage.ru_utime + usage.ru_stime,
        server_cpu,
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
    )


_ACCESS_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"')


class AccessLog:
    """Counts the requests a registry served, read from its access log by User-Agent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def mark(self) -> None:
        self._offset = self.path.stat().st_size

    def since_mark(self, agent_prefix: str = "mplat/") -> Counter[str]:
        # The registry logs after the handler returns, which can trail the client's exit.
        size, settled = -1, 0
        deadline = time.monotonic() + 3.0
        while settled < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.path.stat().st_size
            settled = settled + 1 if now == size else 0
            size = now
        counts: Counter[str] = Counter()
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            for raw in fh:
                m = _ACCESS_LINE.search(raw.decode(errors="replace"))
                if m and m.group(4).startswith(agent_prefix):
                    counts[m.group(1)] += 1
        return counts


@dataclass
class Step:
    """One row of the report."""

    name: str
    wall: float
    maxrss_mb: float
    cpu: float = 0.0
    server_cpu: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    runs: list[float] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


class Mplat:
    """Runs ``python -m mplat`` from this checkout, as a user would.

    Timed runs go to a registry without an access log; each step can add one counting run,
    with a twin configuration, against a second registry process that serves the same
    storage with its access log on. Logging costs the registry a few percent, which must
    not leak into the timings or the floor.
    """

    def __init__(
        self,
        workdir: Path,
        timed_pid: int | None,
        counter: AccessLog | None = None,
        counting_pid: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.timed_pid = timed_pid
        self.counter = counter
        self.counting_pid = counting_pid
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        self.env.pop("MPLAT_CACHE_DIR", None)
        self.env["NO_COLOR"] = "1"

    def run(self, *args: str, expect: Sequence[int] = (0,), counting: bool = False) -> Run:
        pid = self.counting_pid if counting else self.timed_pid
        run = run_child([sys.executable, "-m", "mplat", *args], self.workdir, self.env, pid)
        if run.code not in expect:
            raise RuntimeError(
                f"mplat {' '.join(args)} exited {run.code}\n--- stdout (tail)\n"
                f"{run.stdout[-3000:]}\n--- stderr (tail)\n{run.stderr[-3000:]}"
            )
        return run

    def step(
        self,
        name: str,
        *args: str,
        count_args: Sequence[str] | None = None,
        expect: Sequence[int] = (0,),
        repeat: int = 1,
        before_each: Callable[[], Sequence[str]] | None = None,
        check: Callable[[Run], None] | None = None,
    ) -> Step:
        """The run of median wall time over ``repeat`` runs; peak RSS is the largest seen.

        With ``repeat=0`` the counting run is the only run and gives the time as well (used
        where RSS, not time, is the point and a second long run would only cost minutes).
        """
        runs: list[Run] = []
        for _ in range(repeat):
            extra = before_each() if before_each else ()
            run = self.run(*args, *extra, expect=expect)
            if check:
                check(run)
            runs.append(run)
        counts: Counter[str] = Counter()
        if count_args is not None and self.counter is not None:
            extra = before_each() if before_each else ()
            self.counter.mark()
            run = self.run(*count_args, *extra, expect=expect, counting=True)
            counts = self.counter.since_mark()
            if check:
                check(run)
            if repeat == 0:
                runs.append(run)
        if not runs:
            raise ValueError("a step needs repeat >= 1 or count_args")
        median = sorted(runs, key=lambda r: r.wall)[(len(runs) - 1) // 2]
        step = Step(
            name,
            median.wall,
            max(r.maxrss_mb for r in runs),
            median.cpu,
            median.server_cpu,
            dict(counts),
            [r.wall for r in runs],
        )
        log(
            f"{name}: {step.wall:.2f}s (runs {', '.join(f'{r.wall:.2f}' for r in runs)}), "
            f"cpu {step.cpu:.2f}s, registry cpu {step.server_cpu:.2f}s, "
            f"{step.maxrss_mb:.0f} MB, requests {dict(counts) or '-'}"
        )
        return step


def expect_summary(pattern: str) -> Callable[[Run], None]:
    def check(run: Run) -> None:
        if not re.search(pattern, run.stdout):
            tail = run.stdout[-1500:]
            raise RuntimeError(f"expected /{pattern}/ in mplat's output; got:\n{tail}")

    return check


# --------------------------------------------------------------------------------------------
# The registry's floor: ab -k -i (keep-alive HEADs)


@dataclass(frozen=True)
class Floor:
    requests: int
    concurrency: int
    rps: float

    @property
    def seconds(self) -> float:
        return self.requests / self.rps


def ab_head_rps(url: str, count: int, concurrency: int, tries: int = 3) -> float:
    """Best requests/s of ``tries`` keep-alive HEAD runs: the registry's own ceiling."""
    count = max(count, concurrency, 100)
    best = 0.0
    for _ in range(tries):
        out = subprocess.run(
            [
                "ab",
                "-q",
                "-k",
                "-i",
                "-c",
                str(concurrency),
                "-n",
                str(count),
                "-H",
                f"Accept: {ACCEPT}",
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        m = re.search(r"Requests per second:\s+([0-9.]+)", out.stdout)
        failed = re.search(r"Failed requests:\s+(\d+)", out.stdout)
        non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out.stdout)
        if out.returncode != 0 or not m or (failed and int(failed.group(1))) or non2xx:
            raise RuntimeError(f"ab failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        best = max(best, float(m.group(1)))
    return best


def heads_minimal(host: str, port: int, paths: Sequence[str], connections: int) -> float:
    """Seconds for a bare asyncio keep-alive client to HEAD every path: Python's floor."""

    async def run() -> None:
        todo = iter(paths)

        async def worker() -> None:
            reader, writer = await asyncio.open_connection(host, port)
            try:
                for path in todo:
                    writer.write(
                        f"HEAD {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        f"Accept: {ACCEPT}\r\n\r\n".encode()
                    )
                    head = await reader.readuntil(b"\r\n\r\n")
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise RuntimeError(f"HEAD {path}: {head[:40]!r}")
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(connections)))

    t0 = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - t0


def heads_httpx(host: str, port: int, paths: Sequence[str], connections: int) -> float:
    """Seconds for httpx alone (mplat's HTTP library) to HEAD every path, ``connections``
    in flight: what mplat would cost if it did nothing but send its requests."""

    async def run() -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", limits=limits) as client:
            gate = asyncio.Semaphore(connections)

            async def one(path: str) -> None:
                async with gate:
                    resp = await client.head(path, headers={"Accept": ACCEPT})
                    if resp.status_code != 200:
                        raise RuntimeError(f"HEAD {path}: {resp.status_code}")

            await asyncio.gather(*(one(p) for p in paths))

    t0 = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# The docker CLI loop


def docker_loop(
    registry: str, indices: Sequence[int], workdir: Path, tag_prefix: str
) -> tuple[float, float]:
    """Seconds per list for ``docker manifest create`` + ``push``, and for ``inspect``."""
    config_dir = workdir / f"docker-config-{tag_prefix}"
    config_dir.mkdir(exist_ok=True)
    env = dict(os.environ, DOCKER_CONFIG=str(config_dir))
    env.pop("DOCKER_HOST", None)

    def docker(*args: str) -> None:
        out = subprocess.run(["docker", *args], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed: {out.stderr.strip()}")

    t0 = time.perf_counter()
    for i in indices:
        target = f"{registry}/{REPOSITORY}:{tag_prefix}{i}"
        sources = [f"{registry}/{REPOSITORY}:v{i}-{suffix}" for suffix, _a, _v in PLATFORMS]
        docker("manifest", "create", "--insecure", target, *sources)
        docker("manifest", "push", "--insecure", "--purge", target)
    push = (time.perf_counter() - t0) / len(indices)
    t0 = time.perf_counter()
    for i in indices:
        docker("manifest", "inspect", "--insecure", f"{registry}/{REPOSITORY}:{tag_prefix}{i}")
    inspect = (time.perf_counter() - t0) / len(indices)
    return push, inspect


# --------------------------------------------------------------------------------------------
# The benchmark


@dataclass
class Report:
    machine: dict[str, Any]
    settings: dict[str, Any]
    steps: dict[str, Step] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def add(self, key: str, step: Step) -> Step:
        self.steps[key] = step
        return step

    def check(self, name: str, value: float, target: str, met: bool) -> None:
        self.checks.append({"name": name, "value": value, "target": target, "met": met})

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": self.settings,
            "steps": {
                k: {**asdict(s), "total_requests": s.total_requests} for k, s in self.steps.items()
            },
            "figures": self.figures,
            "checks": self.checks,
        }


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    registry = subprocess.run(
        ["/usr/bin/docker-registry", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "registry": registry,
        "loadavg_at_start": os.getloadavg(),
    }


PLAN_IMPORTS = (
    "import mplat.cli.main, mplat.cli.commands.plan, mplat.cli.commands.apply, "
    "mplat.config.loader, mplat.engine.planner, mplat.engine.apply, mplat.output.text, "
    "mplat.registry.pool, mplat.registry.operations, mplat.registry.cache"
)


def import_floor(mplat: Mplat) -> float:
    """Interpreter start plus the imports of ``plan``/``apply``: paid by every step, no
    matter how little work there is."""
    walls = [
        run_child([sys.executable, "-c", PLAN_IMPORTS], mplat.workdir, mplat.env).wall
        for _ in range(3)
    ]
    return statistics.median(walls)


def run_benchmark(args: argparse.Namespace, workdir: Path) -> Report:
    report = Report(
        machine_info(),
        {
            "lists": args.lists,
            "platforms_per_list": len(PLATFORMS),
            "docker_sample": args.docker_sample,
            "big_tags": args.big_tags,
            "big_shape": args.big_shape,
            "latency_ms": args.latency_ms,
            "repeat": args.repeat,
            "ab_concurrency": args.ab_concurrency,
            "mplat_parallelism": 8,
        },
    )
    timed = RegistryServer(root=workdir / "registry")
    # The counting twin serves the very same storage, so both see every write.
    counting = RegistryServer(root=workdir / "registry-count", access_log=True)
    counting.root.mkdir(parents=True)
    (counting.root / "storage").symlink_to(timed.storage_path, target_is_directory=True)
    timed.root.mkdir(parents=True)
    timed.storage_path.mkdir()
    try:
        timed.start()
        counting.start()
        Bench(args, workdir, timed, counting, report).run()
    finally:
        counting.stop()
        timed.stop()
    report.machine["loadavg_at_end"] = os.getloadavg()
    return report


def server_pid(server: RegistryServer) -> int | None:
    """The registry's pid, for its CPU time (RegistryServer keeps the process private)."""
    proc = getattr(server, "_process", None)
    return proc.pid if proc is not None else None


class Bench:
    """The steps of one benchmark run, in order; each records into ``report``."""

    def __init__(
        self,
        args: argparse.Namespace,
        workdir: Path,
        timed: RegistryServer,
        counting: RegistryServer,
        report: Report,
    ) -> None:
        self.args = args
        self.n: int = args.lists
        self.workdir = workdir
        self.timed = timed
        self.counting = counting
        self.report = report
        self.mplat = Mplat(
            workdir, server_pid(timed), AccessLog(counting.log_path), server_pid(counting)
        )
        self.warm = workdir / "cache-warm"
        self._dirs = 0

    def fresh_dir(self, stem: str) -> Path:
        self._dirs += 1
        return self.workdir / f"{stem}-{self._dirs}"

    def cold_cache(self) -> Sequence[str]:
        return ("--cache-dir", str(self.fresh_dir("cache-cold")))

    def warm_copy(self) -> Sequence[str]:
        """A copy of the warm cache, so every run of a step starts from the same cache."""
        target = self.fresh_dir("cache-copy")
        shutil.copytree(self.warm, target)
        return ("--cache-dir", str(target))

    def configs(self, stem: str, **kw: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``-f`` arguments for the timed registry and for its counting twin.

        ``count_prefix`` gives the twin other tags, for steps that write (an apply).
        """
        count_prefix = kw.pop("count_prefix", None)
        out = []
        for server, suffix in ((self.timed, ""), (self.counting, "-count")):
            path = self.workdir / f"{stem}{suffix}.yaml"
            args = dict(kw)
            if suffix and count_prefix:
                args["tag_prefix"] = count_prefix
            self.report.figures[f"{stem}_tags"] = write_config(path, server.address, **args)
            out.append(("-f", str(path), "--no-color"))
        return out[0], out[1]

    def run(self) -> None:
        args, n, report, mplat = self.args, self.n, self.report, self.mplat
        log(f"registry {self.timed.url}; counting twin {self.counting.url}; work {self.workdir}")
        t0 = time.perf_counter()
        images = seed_sources(self.timed.url, range(n))
        report.figures["seed_seconds"] = time.perf_counter() - t0
        log(f"seeded {images} images in {report.figures['seed_seconds']:.1f}s")
        report.figures["startup_seconds"] = import_floor(mplat)

        f, fc = self.configs("main", sources=range(n))
        report.add("validate", mplat.step("validate", "validate", *f))

        # 1. Apply from empty: N lists created, nothing cached yet. The counting run
        #    creates a second set of N lists (tags cnt*) with the same sources.
        _, apply_fc = self.configs("apply", sources=range(n), count_prefix="c")
        done = expect_summary(rf"Apply complete: {n} done, 0 failed\b")
        apply = report.add(
            "apply",
            mplat.step(
                f"apply from empty ({n} lists)",
                "apply",
                *f,
                "--auto-approve",
                "--cache-dir",
                str(self.warm),
                count_args=("apply", *apply_fc, "--auto-approve", *self.cold_cache()),
                check=done,
            ),
        )

        # 2. No-op plans, with the cache apply left (warm) and with an empty one (cold).
        noop = expect_summary(r"No changes\.")
        plan = ("plan", "--detailed-exitcode")
        # The warm cache knows what the timed registry's tags held (registry.taghints), not
        # the counting twin's, which has another address: one uncounted plan there first, or
        # the counts would show the GETs of a cache that never saw those tags.
        mplat.run(*plan, *fc, "--cache-dir", str(self.warm), counting=True)
        warm = report.add(
            "noop_warm",
            mplat.step(
                "no-op plan, warm cache",
                *plan,
                *f,
                "--cache-dir",
                str(self.warm),
                count_args=(*plan, *fc, "--cache-dir", str(self.warm)),
                repeat=args.repeat,
                check=noop,
            ),
        )
        cold = report.add(
            "noop_cold",
            mplat.step(
                "no-op plan, cold cache",
                *plan,
                *f,
                count_args=(*plan, *fc),
                before_each=self.cold_cache,
                check=noop,
            ),
        )
        # 1b. Apply of N more new lists, with the sources already in the cache: what a
        #     pipeline that keeps its cache (or adds lists over known images) pays.
        f_w, applyw_fc = self.configs(
            "apply_warm", sources=range(n), tag_prefix="w", count_prefix="cw"
        )
        report.add(
            "apply_warm",
            mplat.step(
                f"apply from empty ({n} lists), warm cache",
                "apply",
                *f_w,
                "--auto-approve",
                "--cache-dir",
                str(self.warm),
                count_args=("apply", *applyw_fc, "--auto-approve", "--cache-dir", str(self.warm)),
                check=done,
            ),
        )
        self.floor(warm, cold)
        self.docker(apply, warm)

        # 3. 1% of the lists changed: the amd64 image of each was rebuilt.
        changed = list(range(0, n, 100))[: max(1, n // 100)]
        change_amd64(self.timed.url, changed)
        report.figures["changed_lists"] = len(changed)
        report.add(
            "plan_1pct",
            mplat.step(
                f"plan, 1% changed ({len(changed)} lists)",
                *plan,
                *f,
                count_args=(*plan, *fc),
                before_each=self.warm_copy,
                expect=(2,),
                check=expect_summary(rf"Plan: 0 to create, {len(changed)} to update"),
            ),
        )

        # 4. A big configuration: peak RSS of validate and plan.
        if args.big_tags > 0:
            self.big()
        # Optional: an emulated round trip, where concurrency rather than CPU decides.
        if args.latency_ms > 0:
            self.latency()

    def floor(self, warm: Step, cold: Step) -> None:
        args, report = self.args, self.report
        url = f"{self.timed.url}/v2/{REPOSITORY}/manifests/v0-amd64"
        ab_head_rps(url, 500, args.ab_concurrency, tries=1)  # warm-up
        rps = ab_head_rps(url, max(warm.total_requests, 1000), args.ab_concurrency)
        rps_1 = ab_head_rps(url, 1000, 1)
        report.figures["ab_head_rps"] = rps
        report.figures["ab_head_rps_1conn"] = rps_1
        log(
            f"ab -k -i: {rps:.0f} HEAD/s with {args.ab_concurrency} connections, "
            f"{rps_1:.0f}/s with 1"
        )
        # The same HEADs a no-op plan sends, by two bare clients: what Python itself can do.
        paths = [
            f"/v2/{REPOSITORY}/manifests/{tag}"
            for i in range(self.n)
            for tag in (f"v{i}", *(f"v{i}-{suffix}" for suffix, _a, _v in PLATFORMS))
        ]
        for name, client in (("minimal", heads_minimal), ("httpx", heads_httpx)):
            seconds = min(
                client(self.timed.host, self.timed.port, paths, args.ab_concurrency)
                for _ in range(2)
            )
            report.figures[f"client_{name}_seconds"] = seconds
            log(f"{len(paths)} HEADs with a {name} client: {seconds:.2f}s")
        for key, step in (("noop_warm", warm), ("noop_cold", cold)):
            seconds = Floor(step.total_requests, args.ab_concurrency, rps).seconds
            report.figures[f"{key}_floor_seconds"] = seconds
            report.figures[f"{key}_floor_ratio"] = step.wall / seconds if seconds else None
        ratio = report.figures["noop_warm_floor_ratio"]
        report.check(
            f"no-op plan of {self.n} lists (warm) / registry HEAD floor",
            ratio,
            f"<= {TARGET_NOOP_RATIO}x",
            ratio is not None and ratio <= TARGET_NOOP_RATIO,
        )

    def docker(self, apply: Step, warm: Step) -> None:
        n, report = self.n, self.report
        k = min(self.args.docker_sample, n)
        if k <= 0 or not shutil.which("docker"):
            log("docker loop skipped (no docker CLI, or --docker-sample 0)")
            return
        push, inspect = docker_loop(self.timed.address, range(k), self.workdir, "docker-v")
        speedup = push * n / apply.wall
        report.figures.update(
            docker_push_per_list=push,
            docker_inspect_per_list=inspect,
            docker_apply_seconds=push * n,
            docker_inspect_seconds=inspect * n,
            apply_speedup=speedup,
            noop_warm_vs_docker_inspect=inspect * n / warm.wall,
        )
        log(f"docker manifest create+push: {push:.3f}s/list, inspect: {inspect:.3f}s/list")
        # The registry's own CPU for the apply's requests bounds any client on this machine.
        cores = os.cpu_count() or 1
        if apply.server_cpu > 0:
            report.figures["apply_speedup_ceiling"] = push * n / (apply.server_cpu / cores)
        report.check(
            f"apply of {n} new lists, cold cache: speed-up over the docker loop",
            speedup,
            f">= {TARGET_APPLY_SPEEDUP}x",
            speedup >= TARGET_APPLY_SPEEDUP,
        )
        warm_apply = report.steps.get("apply_warm")
        if warm_apply is not None:
            speedup = push * n / warm_apply.wall
            report.figures["apply_warm_speedup"] = speedup
            report.check(
                f"apply of {n} new lists, warm cache: speed-up over the docker loop",
                speedup,
                f">= {TARGET_APPLY_SPEEDUP}x",
                speedup >= TARGET_APPLY_SPEEDUP,
            )

    def big(self) -> None:
        args, n, report, mplat = self.args, self.n, self.report, self.mplat
        if args.big_shape == "lists":
            kw: dict[str, Any] = {"sources": range(args.big_tags)}
        else:
            kw = {"sources": range(-(-args.big_tags // 10)), "tags_per_list": 10}
        f, fc = self.configs("big", tag_prefix="big", source_count=n, **kw)
        tags = report.figures["big_tags"]
        report.figures["big_config_bytes"] = Path(f[1]).stat().st_size
        v = report.add("big_validate", mplat.step(f"validate, {tags} tags", "validate", *f))
        plan = ("plan", "--detailed-exitcode", "--cache-dir", str(self.warm))
        p = report.add(
            "big_plan",
            mplat.step(
                f"plan, {tags} tags (all to create)",
                *plan,
                *f,
                count_args=(*plan, *fc),
                expect=(2,),
                repeat=0,
                check=expect_summary(rf"Plan: {tags} to create"),
            ),
        )
        peak = max(v.maxrss_mb, p.maxrss_mb)
        report.check(
            f"peak RSS with a {tags}-tag config (MB)",
            peak,
            f"< {TARGET_BIG_RSS_MB:.0f}",
            peak < TARGET_BIG_RSS_MB,
        )

    def latency(self) -> None:
        args, n, report, mplat = self.args, self.n, self.report, self.mplat
        rtt = args.latency_ms
        with DelayProxy(self.timed.host, self.timed.port, rtt / 2000.0) as proxy:
            reg = f"127.0.0.1:{proxy.port}"
            log(f"delay proxy {reg} -> {self.timed.address}, {rtt:g} ms round trip")
            path = self.workdir / "latency.yaml"
            write_config(path, reg, range(n), tag_prefix="lat")
            f = ("-f", str(path), "--no-color")
            cache = str(self.fresh_dir("cache-latency"))
            # Requests are the same work as the loopback steps, so their counts carry over.
            apply = report.add(
                "lat_apply",
                mplat.step(
                    f"apply from empty, {rtt:g} ms RTT",
                    "apply",
                    *f,
                    "--auto-approve",
                    "--cache-dir",
                    cache,
                    check=expect_summary(rf"Apply complete: {n} done, 0 failed\b"),
                ),
            )
            apply.requests = dict(report.steps["apply"].requests)
            plan = ("plan", "--detailed-exitcode", *f, "--cache-dir", cache)
            url = f"http://{reg}/v2/{REPOSITORY}/manifests/v0-amd64"
            for key, conc in (("lat_noop_warm", 8), ("lat_noop_warm_p32", 32)):
                name = f"no-op plan, warm, {rtt:g} ms RTT" + (
                    f", --parallelism {conc}" if conc != 8 else ""
                )
                step = report.add(
                    key,
                    mplat.step(
                        name,
                        *plan,
                        "--parallelism",
                        str(conc),
                        check=expect_summary(r"No changes\."),
                    ),
                )
                step.requests = dict(report.steps["noop_warm"].requests)
                rps = ab_head_rps(url, max(step.total_requests, 200), conc, tries=1)
                seconds = Floor(step.total_requests, conc, rps).seconds
                report.figures[f"{key}_ab_rps"] = rps
                report.figures[f"{key}_floor_seconds"] = seconds
                report.figures[f"{key}_floor_ratio"] = step.wall / seconds
            k = min(args.docker_sample, n, 5)
            if k > 0 and shutil.which("docker"):
                push, inspect = docker_loop(reg, range(k), self.workdir, "lat-docker-v")
                report.figures["lat_docker_push_per_list"] = push
                report.figures["lat_docker_inspect_per_list"] = inspect
                report.figures["lat_apply_speedup"] = push * n / apply.wall
                log(f"docker via proxy: {push:.3f}s/list create+push, {inspect:.3f}s/list inspect")


# --------------------------------------------------------------------------------------------
# The report


def _fmt(v: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{suffix}"


def render(report: Report) -> str:
    m, s, fig, steps = report.machine, report.settings, report.figures, report.steps
    n = s["lists"]
    heads = (s["platforms_per_list"] + 1) * n
    conc = s["ab_concurrency"]
    lines = [
        f"mplat benchmark, {m['date']}",
        f"machine: {m['nproc']} cpus, {m['cpu']}, Python {m['python']}, {m['registry']}",
        f"load average at start {', '.join(f'{x:.2f}' for x in m['loadavg_at_start'])}; "
        f"at end {', '.join(f'{x:.2f}' for x in m.get('loadavg_at_end', ()))}",
        f"{n} lists × {s['platforms_per_list']} platforms; seeded in "
        f"{fig.get('seed_seconds', 0):.1f}s; interpreter + imports of plan/apply: "
        f"{fig.get('startup_seconds', 0):.2f}s",
        f"registry HEAD floor (ab -k -i): {fig.get('ab_head_rps', 0):.0f}/s with {conc} "
        f"connections, {fig.get('ab_head_rps_1conn', 0):.0f}/s with 1",
        f"the no-op plan's {heads} HEADs sent by bare clients ({conc} connections): "
        f"minimal asyncio {fig.get('client_minimal_seconds', 0):.2f}s, "
        f"httpx {fig.get('client_httpx_seconds', 0):.2f}s",
        "",
    ]
    header = (
        "step",
        "wall s",
        "cpu s",
        "reg cpu",
        "peak RSS",
        "requests",
        "compared with",
        "ratio",
    )
    rows: list[tuple[str, ...]] = []

    def req(step: Step) -> str:
        if not step.requests:
            return "-"
        parts = ", ".join(f"{v} {k}" for k, v in sorted(step.requests.items()))
        return f"{step.total_requests} ({parts})"

    def row(key: str, other: str = "", ratio: str = "") -> None:
        st = steps.get(key)
        if st is None:
            return
        cells = (f"{st.wall:.2f}", f"{st.cpu:.2f}", f"{st.server_cpu:.2f}")
        rows.append((st.name, *cells, f"{st.maxrss_mb:.0f} MB", req(st), other, ratio))

    def vs_docker(key: str, per_list: str) -> None:
        st = steps.get(key)
        if st is None or per_list not in fig:
            row(key)
            return
        total = fig[per_list] * n
        row(key, f"docker loop {total:.1f}s ({fig[per_list]:.3f}s/list)", f"{total / st.wall:.1f}×")

    def vs_floor(key: str, label: str) -> None:
        if f"{key}_floor_seconds" in fig:
            row(
                key,
                f"{label} {fig[f'{key}_floor_seconds']:.2f}s",
                f"{fig[f'{key}_floor_ratio']:.2f}× floor",
            )
        else:
            row(key)

    vs_docker("apply", "docker_push_per_list")
    vs_docker("apply_warm", "docker_push_per_list")
    vs_floor("noop_warm", "HEAD floor")
    vs_floor("noop_cold", "HEAD floor")
    if "docker_inspect_per_list" in fig and "noop_warm" in steps:
        total = fig["docker_inspect_per_list"] * n
        rows.append(
            (
                "",
                "",
                "",
                "",
                "",
                "",
                f"docker inspect loop {total:.1f}s",
                f"{total / steps['noop_warm'].wall:.1f}×",
            )
        )
    row("plan_1pct")
    row("validate")
    row("big_validate")
    row("big_plan")
    vs_docker("lat_apply", "lat_docker_push_per_list")
    vs_floor("lat_noop_warm", "ab -c 8")
    vs_floor("lat_noop_warm_p32", "ab -c 32")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    lines += [
        "",
        "cpu s: mplat's own user+system CPU; reg cpu: the registry's meanwhile; ratio for "
        "docker rows: how many times faster mplat is.",
    ]
    if "apply_speedup_ceiling" in fig:
        lines.append(
            f"the registry's CPU for the cold apply's requests ({steps['apply'].server_cpu:.1f}s "
            f"on {m['nproc']} cpus) caps any client at {fig['apply_speedup_ceiling']:.0f}× the "
            "docker loop here."
        )
    if any(k.startswith("lat_") for k in steps):
        lines.append("requests for the RTT rows are those of their loopback twins (same work).")
    if "big_plan" in steps:
        lines.append("the big plan ran once, against the counting registry (access log on).")
    lines += ["", "targets (issue 6):"]
    for c in report.checks:
        mark = "met" if c["met"] else "NOT MET"
        lines.append(f"  {mark:7}  {c['name']}: {_fmt(c['value'])} (target {c['target']})")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark mplat against a local docker-registry (see benchmarks/README.md)."
    )
    p.add_argument("--lists", type=int, default=1000, help="lists of 3 platforms (default 1000)")
    p.add_argument(
        "--docker-sample",
        type=int,
        default=20,
        metavar="K",
        help="lists done with the docker CLI, extrapolated to --lists (default 20; 0 skips)",
    )
    p.add_argument(
        "--big-tags",
        type=int,
        default=10_000,
        metavar="T",
        help="tags in the big config for the RSS figure (default 10000; 0 skips)",
    )
    p.add_argument(
        "--big-shape",
        choices=("lists", "tags"),
        default="lists",
        help="big config as T one-tag lists (default) or T/10 lists of 10 tags",
    )
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        metavar="MS",
        help="also run through a proxy adding this round trip, e.g. 20 (default 0: off)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timed runs of the warm no-op plan; the median is reported (default 3)",
    )
    p.add_argument(
        "--ab-concurrency",
        type=int,
        default=8,
        help="ab connections for the floor; mplat's default parallelism is 8",
    )
    p.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    p.add_argument("--keep", action="store_true", help="keep the work directory (registry, logs)")
    args = p.parse_args(argv)
    if args.lists < 1:
        p.error("--lists must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for tool in ("ab", "/usr/bin/docker-registry"):
        if not shutil.which(tool):
            print(
                f"error: {tool} not found (apt-get install -y apache2-utils docker-registry)",
                file=sys.stderr,
            )
            return 1
    workdir = Path(tempfile.mkdtemp(prefix="mplat-bench-"))
    try:
        report = run_benchmark(args, workdir)
    finally:
        if args.keep:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = render(report)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
