#!/usr/bin/env python3
"""mplat where registries really are: TLS, HTTP/2 and 20-100 ms away (issue 14).

One run starts a TLS registry 2.8 with a private CA, and a plain-HTTP twin serving the same
storage (the docker CLI speaks plain HTTP to loopback registries), puts each behind a
delaying TCP proxy on 127.0.0.1 (this kernel has no netem) and, per round trip asked for,
compares:

- mplat apply from empty (N three-platform lists, cold cache) with the docker CLI loop
  (``docker manifest create/push --insecure``, K lists through the plain-HTTP proxy,
  extrapolated to N);
- mplat's no-op plan (warm cache) with a floor client: the same HEADs sent by plain httpx
  over HTTP/2 (``httpx.AsyncClient(http2=True)``, one connection, 100 streams in flight).

Round trips per list come from mplat's own counters (``requests`` in plan JSON) and from the
proxy's counts of connections and chunks. ``--rtt-ms 0`` runs the same steps straight to
the registry (loopback TLS, no proxy). See benchmarks/README.md, "WAN benchmark".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bench import (  # noqa: E402
    ACCEPT,
    PLATFORMS,
    REPOSITORY,
    Mplat,
    docker_loop,
    log,
    machine_info,
    seed_sources,
    server_pid,
    write_config,
)
from benchmarks.delayproxy import DelayProxy, ProxyCounts  # noqa: E402
from tests.support.registry import RegistryServer, write_self_signed_cert  # noqa: E402

TARGET_NOOP_RATIO = 1.2
"""Issue 14: a no-op plan at most 1.2x the HTTP/2 floor."""
TARGET_APPLY_SPEEDUP = 30.0
"""Issue 14: apply from empty at least 30x faster than the docker loop."""


def h2_floor(base_url: str, ca: Path, paths: Sequence[str], streams: int) -> tuple[float, str]:
    """Seconds for plain httpx over HTTP/2 to HEAD every path, ``streams`` in flight on one
    connection, a new client (TLS handshake included); and the HTTP version it spoke."""
    versions: set[str] = set()

    async def run() -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        async with httpx.AsyncClient(base_url=base_url, http2=True, verify=ctx) as client:
            gate = asyncio.Semaphore(streams)

            async def one(path: str) -> None:
                async with gate:
                    resp = await client.head(path, headers={"Accept": ACCEPT})
                    if resp.status_code != 200:
                        raise RuntimeError(f"HEAD {path}: {resp.status_code}")
                    versions.add(resp.http_version)

            await asyncio.gather(*(one(p) for p in paths))

    t0 = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - t0, ",".join(sorted(versions))


def noop_paths(prefix: str, n: int) -> list[str]:
    """The HEADs of a no-op plan: each list's tag and its three sources."""
    paths = [f"/v2/{REPOSITORY}/manifests/{prefix}{i}" for i in range(n)]
    for i in range(n):
        paths += [f"/v2/{REPOSITORY}/manifests/v{i}-{suffix}" for suffix, _a, _v in PLATFORMS]
    return paths


class Wan:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.n: int = args.lists
        self.workdir = workdir
        self.cert, key = write_self_signed_cert(workdir / "tls")
        self.tls = RegistryServer(root=workdir / "registry-tls", tls=(self.cert, key))
        self.plain = RegistryServer(root=workdir / "registry-plain")
        self.tls.root.mkdir(parents=True)
        self.tls.storage_path.mkdir()
        self.plain.root.mkdir(parents=True)
        (self.plain.root / "storage").symlink_to(self.tls.storage_path, target_is_directory=True)
        self.mplat = Mplat(workdir, None)
        self.figures: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        try:
            self.tls.start()
            self.plain.start()
            self.mplat.timed_pid = server_pid(self.tls)
            t0 = time.perf_counter()
            images = seed_sources(self.plain.url, range(self.n))
            log(f"seeded {images} images in {time.perf_counter() - t0:.1f}s")
            for rtt in self.args.rtt_ms:
                self.figures[f"rtt_{rtt:g}"] = self.one_rtt(rtt)
        finally:
            self.plain.stop()
            self.tls.stop()
        return self.figures

    def _proxy(self, server: RegistryServer, rtt: float) -> DelayProxy | None:
        return DelayProxy(server.host, server.port, rtt / 2000.0) if rtt > 0 else None

    def one_rtt(self, rtt: float) -> dict[str, Any]:
        args, n = self.args, self.n
        out: dict[str, Any] = {"rtt_ms": rtt}
        tls_proxy = self._proxy(self.tls, rtt)
        plain_proxy = self._proxy(self.plain, rtt)
        try:
            for p in (tls_proxy, plain_proxy):
                if p is not None:
                    p.__enter__()
            reg = f"127.0.0.1:{tls_proxy.port}" if tls_proxy else self.tls.address
            plain_reg = f"127.0.0.1:{plain_proxy.port}" if plain_proxy else self.plain.address
            log(f"--- {rtt:g} ms RTT: mplat -> {reg} (TLS), docker -> {plain_reg} (HTTP)")
            prefix = f"r{rtt:g}-"
            path = self.workdir / f"wan-{rtt:g}.yaml"
            settings = [f"ca_file: {self.cert}"] + (["http2: true"] if args.http2 else [])
            write_config(path, reg, range(n), tag_prefix=prefix, settings=settings)
            par = ("--parallelism", str(args.parallelism)) if args.parallelism else ()
            cache = str(self.workdir / f"cache-{rtt:g}")
            common = ("-f", str(path), "--no-color", "--cache-dir", cache, *par)

            def counts() -> ProxyCounts | None:
                return tls_proxy.reset() if tls_proxy else None

            counts()
            proxy_cpu = time.process_time()
            run = self.mplat.run("apply", *common, "--auto-approve", "--json")
            proxy_cpu = time.process_time() - proxy_cpu
            apply_counts = counts()
            doc = json.loads(run.stdout)
            out["apply"] = {
                "wall": run.wall,
                "cpu": run.cpu,
                "registry_cpu": run.server_cpu,
                "proxy_cpu": proxy_cpu,
                "plan_requests": doc["plan"]["requests"] if "plan" in doc else doc.get("requests"),
                "proxy": asdict(apply_counts) if apply_counts else None,
            }
            log(
                f"apply from empty: {run.wall:.2f}s; cpu s: mplat {run.cpu:.2f}, registry "
                f"{run.server_cpu:.2f}, proxy {proxy_cpu:.2f}; requests "
                f"{out['apply']['plan_requests']} + writes; proxy {apply_counts}"
            )
            walls: list[float] = []
            plan_doc: dict[str, Any] = {}
            plan_counts: ProxyCounts | None = None
            cpus: list[tuple[float, float, float]] = []
            for _ in range(args.repeat):
                counts()
                proxy_cpu = time.process_time()
                run = self.mplat.run("plan", *common, "--json", "--detailed-exitcode")
                cpus.append((run.cpu, run.server_cpu, time.process_time() - proxy_cpu))
                plan_counts = counts()
                plan_doc = json.loads(run.stdout)
                walls.append(run.wall)
            wall = statistics.median(walls)
            requests = plan_doc.get("requests", {})
            total = sum(requests.values())
            out["noop"] = {
                "wall": wall,
                "runs": walls,
                "cpu_mplat_registry_proxy": [statistics.median(c) for c in zip(*cpus, strict=True)],
                "requests": requests,
                "requests_per_list": total / n,
                "proxy": asdict(plan_counts) if plan_counts else None,
            }
            log(
                f"no-op plan: {wall:.2f}s (runs {', '.join(f'{w:.2f}' for w in walls)}), "
                f"requests {requests} = {total / n:.1f}/list, median cpu s (mplat, registry, "
                f"proxy) {out['noop']['cpu_mplat_registry_proxy']}, proxy {plan_counts}"
            )
            counts()
            floor, version = h2_floor(
                f"https://{reg}", self.cert, noop_paths(prefix, n), args.floor_streams
            )
            floor_counts = counts()
            out["floor"] = {
                "wall": floor,
                "http_version": version,
                "streams": args.floor_streams,
                "proxy": asdict(floor_counts) if floor_counts else None,
            }
            out["noop_floor_ratio"] = wall / floor
            log(f"HTTP/2 floor ({version}, {args.floor_streams} streams): {floor:.2f}s")
            k = min(args.docker_sample, n)
            if k > 0 and shutil.which("docker"):
                push, _inspect = docker_loop(plain_reg, range(k), self.workdir, f"d{rtt:g}-")
                out["docker_push_per_list"] = push
                out["docker_loop_extrapolated"] = push * n
                out["apply_speedup"] = push * n / out["apply"]["wall"]
                log(f"docker loop: {push:.3f}s/list -> {push * n:.1f}s for {n} lists")
        finally:
            for p in (tls_proxy, plain_proxy):
                if p is not None:
                    p.__exit__(None, None, None)
        return out


def render(figures: dict[str, Any], n: int) -> str:
    lines = [f"WAN benchmark: {n} lists x 3 platforms, TLS registry (private CA)", ""]
    head = (
        f"{'RTT':>6} | {'apply s':>8} | {'docker s':>9} | {'speedup':>8} | "
        f"{'no-op s':>8} | {'req/list':>8} | {'conns':>5} | {'chunks up':>9} | "
        f"{'h2 floor':>8} | {'ratio':>6}"
    )
    lines += [head, "-" * len(head)]
    for key, f in figures.items():
        if not key.startswith("rtt_"):
            continue
        noop, proxy = f["noop"], f["noop"]["proxy"] or {}
        docker = f.get("docker_loop_extrapolated")
        speed = f.get("apply_speedup")
        lines.append(
            f"{f['rtt_ms']:>4g}ms | {f['apply']['wall']:>8.2f} | "
            f"{docker if docker is not None else float('nan'):>9.1f} | "
            f"{speed if speed is not None else float('nan'):>7.1f}x | "
            f"{noop['wall']:>8.2f} | {noop['requests_per_list']:>8.1f} | "
            f"{proxy.get('connections', '-'):>5} | {proxy.get('chunks_up', '-'):>9} | "
            f"{f['floor']['wall']:>8.2f} | {f['noop_floor_ratio']:>5.2f}x"
        )
    lines.append("")
    for key, f in figures.items():
        if not key.startswith("rtt_"):
            continue
        ratio, speed = f["noop_floor_ratio"], f.get("apply_speedup")
        met = "met" if ratio <= TARGET_NOOP_RATIO else "NOT MET"
        lines.append(
            f"{f['rtt_ms']:g} ms: no-op plan {ratio:.2f}x the HTTP/2 floor "
            f"(target <= {TARGET_NOOP_RATIO}x): {met}"
        )
        if speed is not None:
            met = "met" if speed >= TARGET_APPLY_SPEEDUP else "NOT MET"
            lines.append(
                f"{f['rtt_ms']:g} ms: apply {speed:.1f}x faster than the docker loop "
                f"(target >= {TARGET_APPLY_SPEEDUP:g}x): {met}"
            )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--lists", type=int, default=1000, help="three-platform lists (default 1000)")
    p.add_argument(
        "--rtt-ms",
        type=float,
        nargs="+",
        default=[20.0],
        help="round trips to emulate, each a pass of every step (default 20; 0 = no proxy)",
    )
    p.add_argument("--docker-sample", type=int, default=5, help="lists done by docker (0 skips)")
    p.add_argument("--repeat", type=int, default=3, help="timed no-op plans; median reported")
    p.add_argument("--floor-streams", type=int, default=100, help="HTTP/2 streams in flight")
    p.add_argument("--parallelism", type=int, default=0, help="mplat --parallelism (0: default)")
    p.add_argument(
        "--http2", action="store_true", help="set http2: true for the registry (default HTTP/1.1)"
    )
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mplat-wan-"))
    try:
        info = machine_info()
        log(f"machine: {info}")
        figures = Wan(args, workdir).run()
        figures["machine"] = info
        figures["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        print(render(figures, args.lists))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
