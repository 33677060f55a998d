"""Apply under injected faults and kill -9: the registry is never left broken.

A real registry sits behind tests/support/faultproxy.py, which fails a seeded fraction of
requests (5xx, 429, resets before and after the registry acted, truncated bodies, stalls past
mplat's timeout). mplat runs as a real subprocess through the CLI. Afterwards the registry is
read directly, bypassing the proxy, and must satisfy:

* every tag points at something pullable from its own repository (a list's children and
  their blobs are all there), i.e. "broken" == 0;
* a tag outside the plan did not move; a tag in the plan holds either what it held before or
  exactly the list mplat wanted;
* an apply without faults then converges, and the next plan shows no changes.

Sources live in the target repositories, in another repository of the same registry (blobs
are mounted), and behind a second proxy to the same registry under another address, which
mplat takes for another registry (blobs are downloaded and uploaded).

Figures (fault rates, lists applied, faults by kind, broken tags) are printed for ``-s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mplat.registry.errors import RegistryError
from mplat.registry.pool import ConnectionSettings, RegistryPool
from mplat.registry.retry import RetryPolicy
from tests.support.faultproxy import FAULT_KINDS, FaultProxy, TagKey, broken_tags, snapshot_tags
from tests.support.paths import ROOT
from tests.support.registry import MISSING_BINARY_MESSAGE, REGISTRY_BINARY, RegistryServer
from tests.support.seed import push_index, seed_image

SEED = 20240611
SOURCE = "base/src"
TARGETS = ("app/r0", "app/r1", "app/r2", "app/r3")
PLATFORMS: tuple[tuple[str, str, str | None], ...] = (
    ("linux", "amd64", None),
    ("linux", "arm64", None),
    ("linux", "arm", "v7"),
    ("linux", "ppc64le", None),
    ("linux", "s390x", None),
    ("linux", "386", None),
)


def plat_tag(p: tuple[str, str, str | None]) -> str:
    return "-".join(x for x in p if x)


def plat_string(p: tuple[str, str, str | None]) -> str:
    return "/".join(x for x in p if x)


# -- the scenario -------------------------------------------------------------------------------


def seed_scenario(registry: RegistryServer) -> None:
    """Sources in another repository (two builds per platform), sources in each target
    repository, some plan tags already holding an older list, and tags outside the plan."""
    url = registry.url
    for p in PLATFORMS:
        for salt in ("a", "b"):
            seed_image(
                url,
                SOURCE,
                f"{plat_tag(p)}-{salt}",
                os=p[0],
                architecture=p[1],
                variant=p[2],
                salt=f"src-{salt}",
            )
    for repo in TARGETS:
        local = {}
        for p in PLATFORMS:
            local[p] = seed_image(
                url,
                repo,
                f"local-{plat_tag(p)}",
                os=p[0],
                architecture=p[1],
                variant=p[2],
                salt=f"local-{repo}",
            )
        amd64 = (local[PLATFORMS[0]], {"os": "linux", "architecture": "amd64"})
        arm64 = (local[PLATFORMS[1]], {"os": "linux", "architecture": "arm64"})
        push_index(url, repo, "keep", [amd64, arm64])  # outside every plan: must never move
        for i in range(0, N_LISTS, 5):  # some plan tags hold an older list
            if TARGETS[i % len(TARGETS)] == repo:
                push_index(url, repo, f"l{i}", [amd64], oci=False)


def config_text(
    addr: str,
    mirror: str,
    n_lists: int,
    variant: int,
    targets: tuple[str, ...] = TARGETS,
    via_mirror: float = 0.25,
) -> str:
    """``n_lists`` lists of 2-3 platforms spread over ``targets``; ``variant`` reshuffles
    which builds and platforms each list holds. Half the entries come from the target
    repository itself (only for the seeded TARGETS), the rest from SOURCE: a ``via_mirror``
    share of those through ``mirror``, another address of the same registry, so they are
    downloaded and uploaded rather than mounted."""
    rng = random.Random(SEED * 31 + variant)
    out = ["version: 1", "lists:"]
    for i in range(n_lists):
        repo = targets[i % len(targets)]
        tags = [f"l{i}"] + ([f"l{i}-alias"] if i % 10 == 0 else [])
        fmt = "docker" if i % 3 == 0 else "oci"
        out += [
            f"  - repository: {addr}/{repo}",
            f"    tags: [{', '.join(tags)}]",
            f"    format: {fmt}",
            "    manifests:",
        ]
        for p in rng.sample(PLATFORMS, rng.choice((2, 3))):
            if repo in TARGETS and rng.random() < 0.5:
                out.append(f"      - image: {addr}/{repo}:local-{plat_tag(p)}")
            else:
                host = mirror if rng.random() < via_mirror else addr
                out.append(f"      - image: {host}/{SOURCE}:{plat_tag(p)}-{rng.choice('ab')}")
            if rng.random() < 0.2:
                out.append(f"        platform: {plat_string(p)}")
    return "\n".join(out) + "\n"


def plan_keys(n_lists: int, targets: tuple[str, ...] = TARGETS) -> set[TagKey]:
    keys = set()
    for i in range(n_lists):
        repo = targets[i % len(targets)]
        keys.add((repo, f"l{i}"))
        if i % 10 == 0:
            keys.add((repo, f"l{i}-alias"))
    return keys


# -- running mplat --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str
    seconds: float

    @property
    def text(self) -> str:
        return self.out + self.err


def mplat_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MPLAT_CACHE_DIR"] = str(tmp_path / "cache")
    env["DOCKER_CONFIG"] = str(tmp_path / "docker")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def mplat_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "mplat", *args]


def run_mplat(tmp_path: Path, *args: str, timeout: float = 120) -> Result:
    t0 = time.monotonic()
    proc = subprocess.run(
        mplat_args(*args),
        capture_output=True,
        text=True,
        env=mplat_env(tmp_path),
        cwd=tmp_path,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.text.splitlines() if line.startswith("Error")]


def show(result: Result, limit: int = 6) -> str:
    """The first error lines (or the traceback's last lines) of a run, for the printout."""
    if "Traceback" in result.err:
        return "\n    " + "\n    ".join(result.err.strip().splitlines()[-3:])
    lines = error_lines(result)
    more = f"\n    ... {len(lines) - limit} more" if len(lines) > limit else ""
    return "".join(f"\n    {line[:300]}" for line in lines[:limit]) + more


def applied_counts(result: Result) -> tuple[int, int]:
    """(done, failed) from "Apply complete: N done, M failed." (0, 0 if apply never ran)."""
    for line in result.out.splitlines():
        if line.startswith("Apply complete:"):
            words = line.replace(",", "").split()
            return int(words[2]), int(words[4])
    return 0, 0


def desired_digests(tmp_path: Path, cfg: Path) -> dict[TagKey, str]:
    """What the configuration wants each tag to hold, according to a fault-free plan."""
    plan = run_mplat(tmp_path, "plan", "-f", str(cfg), "--json", "--show-no-op")
    assert plan.code == 0, plan.text
    doc = json.loads(plan.out)
    out = {}
    for c in doc["changes"]:
        _, _, path = c["repository"].partition("/")
        out[(path, c["tag"])] = c["after"]["digest"]
    return out


# -- the invariant --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audit:
    broken: list[str]
    moved_outside_plan: list[str]
    unexpected_in_plan: list[str]
    moved_in_plan: int

    def assert_ok(self) -> None:
        assert self.broken == [], "\n".join(self.broken)
        assert self.moved_outside_plan == [], "\n".join(self.moved_outside_plan)
        assert self.unexpected_in_plan == [], "\n".join(self.unexpected_in_plan)


def audit(
    registry: RegistryServer,
    before: dict[TagKey, str],
    after: dict[TagKey, str],
    planned: set[TagKey],
    desired: dict[TagKey, str] | None,
) -> Audit:
    """Check the registry state ``after`` against ``before`` (see the module docstring)."""
    outside = [
        f"{r}:{t}: {before.get((r, t))} -> {after.get((r, t))}"
        for r, t in sorted(set(before) | set(after))
        if (r, t) not in planned and before.get((r, t)) != after.get((r, t))
    ]
    unexpected = []
    if desired is not None:
        for key in sorted(planned):
            now = after.get(key)
            if now not in (before.get(key), desired.get(key)):
                unexpected.append(
                    f"{key[0]}:{key[1]} holds {now}, neither its previous {before.get(key)} "
                    f"nor the desired {desired.get(key)}"
                )
    moved = sum(1 for k in planned if before.get(k) != after.get(k))
    return Audit(broken_tags(registry.url, after), outside, unexpected, moved)


# -- fixtures -------------------------------------------------------------------------------------


@dataclass
class World:
    """The registry, the proxy the configurations name, and a mirror proxy to the same
    registry that mplat sees as another registry. Both proxies inject the same faults."""

    registry: RegistryServer
    proxy: FaultProxy
    mirror: FaultProxy

    def faults(
        self,
        rate: float,
        kinds: Collection[str] = FAULT_KINDS,
        latency: float = 0.0,
        methods: Collection[str] | None = None,
        max_streak: int | None = None,
    ) -> None:
        for p in (self.proxy, self.mirror):
            p.configure(rate=rate, kinds=kinds, latency=latency, max_streak=max_streak)
            p.only_methods(methods)

    def reset_counts(self) -> None:
        self.proxy.reset_counts()
        self.mirror.reset_counts()

    @property
    def writes_seen(self) -> int:
        return self.proxy.writes_seen + self.mirror.writes_seen

    @property
    def tag_writes(self) -> int:
        """Tag PUTs (``/manifests/l…``) the registry has answered."""
        return self.proxy.count(lambda e: e.method == "PUT" and "/manifests/l" in e.path)

    @property
    def total_faults(self) -> int:
        return self.proxy.total_faults + self.mirror.total_faults

    def summary(self) -> str:
        faults = self.proxy.faults + self.mirror.faults
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(faults.items())) or "none"
        requests = self.proxy.requests + self.mirror.requests
        return f"{requests} requests, {sum(faults.values())} faults ({kinds})"

    def config(
        self,
        n_lists: int,
        variant: int,
        targets: tuple[str, ...] = TARGETS,
        via_mirror: float = 0.25,
    ) -> str:
        return config_text(
            self.proxy.address, self.mirror.address, n_lists, variant, targets, via_mirror
        )


@pytest.fixture(scope="module")
def _world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Seeded once per module (seeding costs seconds); each test audits relative to the
    state it finds, so sharing is safe."""
    if not REGISTRY_BINARY.exists():
        pytest.fail(MISSING_BINARY_MESSAGE, pytrace=False)
    registry = RegistryServer(root=tmp_path_factory.mktemp("faults-registry"))
    try:
        registry.start()
        seed_scenario(registry)
        with (
            FaultProxy(registry.address, seed=SEED, stall=2.0) as proxy,
            FaultProxy(registry.address, seed=SEED + 1, stall=2.0) as mirror,
        ):
            yield World(registry, proxy, mirror)
    finally:
        registry.stop()


@pytest.fixture
def world(_world: World) -> World:
    _world.faults(0.0)
    _world.reset_counts()
    return _world


def write(tmp_path: Path, text: str, name: str = "manifests.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def converge(tmp_path: Path, world: World, cfg: Path) -> dict[TagKey, str]:
    """Without faults: apply succeeds, the next plan is empty; returns the final state."""
    world.faults(0.0)
    applied = run_mplat(tmp_path, "apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.text
    plan = run_mplat(tmp_path, "plan", "-f", str(cfg), "--detailed-exitcode")
    assert plan.code == 0, plan.text
    assert "No changes." in plan.out
    return snapshot_tags(world.registry.url)


def assert_clean_failure(result: Result, world: World) -> None:
    """Exit 0, or exit 1 with readable errors naming what failed; never a traceback."""
    addresses = (world.proxy.address, world.mirror.address)
    assert "Traceback" not in result.text, result.err[-4000:]
    assert result.code in (0, 1), result.text[-4000:]
    if result.code == 1:
        errors = error_lines(result)
        assert errors, result.text[-4000:]
        for line in errors:
            assert any(a in line for a in addresses), line


# -- the tests ------------------------------------------------------------------------------------

N_LISTS = 100
FEW_LISTS = 60


@dataclass(frozen=True)
class Round:
    run: Result
    audit: Audit
    faults: str


def faulty_apply(
    tmp_path: Path,
    world: World,
    n_lists: int,
    variant: int,
    *extra: str,
    rate: float,
    targets: tuple[str, ...] = TARGETS,
    via_mirror: float = 0.25,
    kinds: Collection[str] = FAULT_KINDS,
    methods: Collection[str] | None = None,
    max_streak: int | None = None,
) -> Round:
    """Apply ``n_lists`` lists with faults on; then audit, converge without faults, and
    audit the state under faults against the converged (desired) one."""
    cfg = write(tmp_path, world.config(n_lists, variant, targets, via_mirror))
    planned = plan_keys(n_lists, targets)
    before = snapshot_tags(world.registry.url)
    world.faults(rate, kinds, methods=methods, max_streak=max_streak)
    # --allow-partial: under faults some lists fail to plan; the rest must still be applied.
    args = ("--auto-approve", "--allow-partial", "--timeout", "1", *extra)
    run = run_mplat(tmp_path, "apply", "-f", str(cfg), *args)
    summary = world.summary()
    after = snapshot_tags(world.registry.url)
    final = converge(tmp_path, world, cfg)
    assert broken_tags(world.registry.url, final) == []
    return Round(run, audit(world.registry, before, after, planned, final), summary)


def figures(title: str, r: Round, n_lists: int) -> str:
    done, failed = applied_counts(r.run)
    return (
        f"\n{title}: {n_lists} lists / {len(plan_keys(n_lists))} tags; exit {r.run.code} in "
        f"{r.run.seconds:.1f}s; tags written {done}, failed {failed}; error lines "
        f"{len(error_lines(r.run))}; tags moved {r.audit.moved_in_plan}; {r.faults}; "
        f"broken {len(r.audit.broken)}" + show(r.run)
    )


def test_apply_under_ten_percent_faults(tmp_path: Path, world: World) -> None:
    r = faulty_apply(tmp_path, world, N_LISTS, 1, rate=0.10)
    print(figures("10% faults, 5 attempts", r, N_LISTS))
    r.audit.assert_ok()
    assert world.total_faults > 0
    assert_clean_failure(r.run, world)


def test_apply_under_thirty_percent_faults_with_few_retries(tmp_path: Path, world: World) -> None:
    r = faulty_apply(tmp_path, world, FEW_LISTS, 2, "--retries", "2", rate=0.30)
    print(figures("30% faults, 2 attempts", r, FEW_LISTS))
    r.audit.assert_ok()
    assert_clean_failure(r.run, world)
    assert r.run.code == 1  # at this rate some request must run out of attempts


CUT_LISTS = 30


def test_reads_cut_off_mid_body_are_retried(tmp_path: Path, world: World) -> None:
    """A GET whose body breaks off is as transient as one reset before its headers.

    Only GETs fail here, only by truncation (headers, then half the body, then close), at
    15%: with the default 5 attempts every read should get through, so the apply succeeds.
    """
    r = faulty_apply(
        tmp_path, world, CUT_LISTS, 3, rate=0.15, kinds=("truncate",), methods=("GET",)
    )
    print(figures("15% of GET bodies cut off, 5 attempts", r, CUT_LISTS))
    r.audit.assert_ok()
    assert_clean_failure(r.run, world)
    assert r.run.code == 0, "a read cut off mid-body was not retried"


UPLOAD_TARGETS = ("up/r0", "up/r1", "up/r2")


def test_failed_uploads_are_retried_with_a_fresh_session(tmp_path: Path, world: World) -> None:
    """Every child comes through the mirror, so every blob is downloaded and uploaded; a
    quarter of PUTs answer 503. Manifest PUTs are retried; a blob upload must be too (a new
    session, a fresh stream: the client's own docstring says that is what the factory is
    for), so the apply succeeds. At most 3 faults in a row per logical request (the upload
    of one blob, whatever its session URL): with 8 attempts it can never fail by chance."""
    r = faulty_apply(
        tmp_path,
        world,
        12,
        4,
        targets=UPLOAD_TARGETS,
        via_mirror=1.0,
        rate=0.25,
        kinds=("503",),
        methods=("PUT",),
        max_streak=3,
    )
    print(figures("25% of PUTs answered 503, 5 attempts", r, 12))
    r.audit.assert_ok()
    assert_clean_failure(r.run, world)
    assert world.mirror.methods_seen["GET"] > 0  # blobs really were downloaded
    assert r.run.code == 0, "a blob upload refused with 503 was not retried"


KILL_LISTS = 30
KILL_ROUNDS = 3
KILL_TARGETS = ("kill/r0", "kill/r1", "kill/r2", "kill/r3")  # fresh: children must be copied


def test_kill_minus_nine_midway_never_breaks_a_tag(tmp_path: Path, world: World) -> None:
    """kill -9 at a seeded point: after the k-th write request of any kind (mounts,
    uploads, child manifests, tags) or, every other round, after the k-th tag write, so
    some kills land among the children and some among the tags."""
    rng = random.Random(SEED)
    planned = plan_keys(KILL_LISTS, KILL_TARGETS)
    moved_per_round = []
    for round_no in range(1, KILL_ROUNDS + 1):
        cfg = write(tmp_path, world.config(KILL_LISTS, 100 + round_no, KILL_TARGETS, 0.4))
        before = snapshot_tags(world.registry.url)
        # Latency per request stretches the apply so the kill lands inside it, not after.
        world.faults(0.0, latency=0.02)
        world.reset_counts()
        on_tags = round_no % 2 == 0
        kill_after = rng.randint(1, 15) if on_tags else rng.randint(1, 60)
        what = "tag write" if on_tags else "write request"
        proc = subprocess.Popen(
            mplat_args("apply", "-f", str(cfg), "--auto-approve"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=mplat_env(tmp_path),
            cwd=tmp_path,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None:
            if (world.tag_writes if on_tags else world.writes_seen) >= kill_after:
                break
            assert time.monotonic() < deadline, "apply made no progress"
            time.sleep(0.002)
        proc.kill()
        code = proc.wait(timeout=30)
        world.faults(0.0)
        writes = world.writes_seen
        after = snapshot_tags(world.registry.url)
        desired = desired_digests(tmp_path, cfg)
        result = audit(world.registry, before, after, planned, desired)
        moved_per_round.append(result.moved_in_plan)
        print(
            f"\nkill -9 round {round_no}: after {what} #{kill_after} (exit {code}; {writes} "
            f"write requests reached the proxies); {result.moved_in_plan} of {len(planned)} "
            f"tags moved; broken {len(result.broken)}"
        )
        result.assert_ok()
    converge(tmp_path, world, cfg)
    assert any(0 < m < len(planned) for m in moved_per_round), "no kill landed mid-way"


# -- timeouts, outages and unreachable registries (issue 10) -------------------------------------


def _pool(timeout: float, retry: RetryPolicy | None = None) -> RegistryPool:
    return RegistryPool(
        lambda _: ConnectionSettings(insecure=True),
        lambda _registry, _repository: None,
        timeout=timeout,
        retry=retry or RetryPolicy(),
    )


def test_an_upload_longer_than_the_timeout_succeeds_while_bytes_flow(world: World) -> None:
    """--timeout bounds a stall, not a transfer: 3 MiB at 1 MiB/s is 3 s against a 1 s timeout."""
    data = random.Random(SEED).randbytes(3 << 20)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 256 * 1024):
            yield data[i : i + 256 * 1024]

    async def main(address: str) -> float:
        pool = _pool(1.0, RetryPolicy(attempts=1))
        try:
            t0 = time.monotonic()
            await pool.client(address).upload_blob("slow/up", digest, len(data), chunks)
            return time.monotonic() - t0
        finally:
            await pool.aclose()

    with FaultProxy(world.registry.address, throttle=1 << 20) as slow:
        seconds = asyncio.run(main(slow.address))
    print(f"\n3 MiB upload at 1 MiB/s with --timeout 1: {seconds:.1f}s")
    assert seconds > 2.0  # it really was throttled past the timeout


def _manifest_digest(world: World) -> str:
    accept = "application/vnd.oci.image.manifest.v1+json, " + (
        "application/vnd.docker.distribution.manifest.v2+json"
    )
    with httpx.Client(base_url=world.registry.url, timeout=30) as c:
        resp = c.head(f"/v2/{SOURCE}/manifests/linux-amd64-a", headers={"Accept": accept})
        resp.raise_for_status()
        return resp.headers["Docker-Content-Digest"]


def test_a_body_dribbled_a_byte_at_a_time_is_bounded(world: World) -> None:
    """A manifest sent at 20 bytes/s takes a minute or more; with --timeout 1 each attempt
    to read it whole must end after about 1 s, not run for the length of the body."""
    digest = _manifest_digest(world)

    async def main(address: str) -> None:
        pool = _pool(1.0, RetryPolicy(attempts=2, base_delay=0.01))
        try:
            await pool.client(address).get_manifest(SOURCE, digest)
        finally:
            await pool.aclose()

    with FaultProxy(world.registry.address, dribble=0.05) as dribbler:
        t0 = time.monotonic()
        with pytest.raises(RegistryError, match="ReadTimeout"):
            asyncio.run(main(dribbler.address))
        seconds = time.monotonic() - t0
    print(f"\ndribbled manifest, --timeout 1: gave up after {seconds:.1f}s")
    assert seconds < 20  # generous; unbounded, each attempt reads for the whole body


def test_an_apply_rides_out_a_ten_second_outage(tmp_path: Path, world: World) -> None:
    """From the first write on, the proxy resets every connection for 10 s (a registry
    restart); with the default retries (at least 15.75 s of backoff) the apply succeeds."""
    cfg = write(tmp_path, world.config(8, 7, ("outage/r0", "outage/r1"), 0.0))
    world.proxy.outage_after_write(10.0)
    try:
        r = run_mplat(tmp_path, "apply", "-f", str(cfg), "--auto-approve", "--timeout", "5")
    finally:
        refused = world.proxy.refused
        world.proxy.outage_after_write(0.0)
    print(f"\n10 s outage mid-apply: exit {r.code} in {r.seconds:.1f}s; {refused} reset" + show(r))
    assert refused > 0
    assert r.code == 0, r.text[-3000:]


def _unreachable_config(tmp_path: Path, addr: str, n: int) -> Path:
    lines = ["version: 1", "lists:"]
    for i in range(n):
        lines += [
            f"  - repository: {addr}/down/r{i}",
            f"    tags: [t{i}]",
            "    manifests:",
            f"      - image: {addr}/down/src:a{i}",
        ]
    return write(tmp_path, "\n".join(lines) + "\n")


def test_a_closed_port_is_one_error_found_once(tmp_path: Path) -> None:
    """20 lists on a registry nobody listens on: one retried failure, then every other list
    fails at once with the same error; one note per kind, not one per request."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _unreachable_config(tmp_path, f"127.0.0.1:{port}", 20)
    r = run_mplat(tmp_path, "plan", "-f", str(cfg), "--timeout", "2", "--retries", "3")
    print(f"\n20 lists, closed port: exit {r.code} in {r.seconds:.1f}s" + show(r, 3))
    assert r.code == 1 and "Traceback" not in r.text
    notes = [line for line in r.err.splitlines() if "before retrying" in line]
    assert len(notes) == 1, r.err
    assert "stops asking this registry" in r.text
    assert r.text.count("stops asking this registry") == 1, r.text  # reported once,
    assert "affects 20 lists: " in r.text  # with the lists it affects


def _stalled_plan(tmp_path: Path, n: int) -> tuple[Result, int]:
    """Plan ``n`` lists against a listener that accepts and never answers."""
    accepted: list[socket.socket] = []
    stop = threading.Event()
    with socket.socket() as lsock:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(512)
        lsock.settimeout(0.1)

        def accept() -> None:
            while not stop.is_set():
                try:
                    accepted.append(lsock.accept()[0])
                except OSError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            cfg = _unreachable_config(tmp_path, f"127.0.0.1:{lsock.getsockname()[1]}", n)
            args = ("plan", "-f", str(cfg), "--timeout", "1", "--retries", "2")
            r = run_mplat(tmp_path, *args, timeout=300)
        finally:
            stop.set()
            thread.join()
            for c in accepted:
                c.close()
    return r, len(accepted)


def test_a_stalled_registry_is_given_up_once_not_once_per_list(tmp_path: Path) -> None:
    """The connections a stalled registry sees (and so the time) do not grow with lists."""
    seen = []
    for n in (1, 20):
        r, conns = _stalled_plan(tmp_path, n)
        print(
            f"\n{n} lists, stalled: exit {r.code} in {r.seconds:.1f}s, {conns} conns" + show(r, 2)
        )
        assert r.code == 1 and "Traceback" not in r.text
        seen.append(conns)
    # At most the requests already in flight (8 slots, 2 attempts) when the first gave up.
    assert seen[1] <= seen[0] + 2 * 8, seen


def test_refused_mounts_with_one_slot_do_not_deadlock(tmp_path: Path, world: World) -> None:
    """Sources in another repository of the same registry, mounts refused: every blob is
    streamed from the registry into an upload to it. With --parallelism 1 the upload's PUT
    used to hold the only slot its own source GET waited for, until the write timeout."""
    with FaultProxy(world.registry.address, refuse_mounts=True) as proxy:
        text = config_text(proxy.address, proxy.address, 12, 9, ("nomnt/r0", "nomnt/r1"), 0.0)
        cfg = write(tmp_path, text)
        args = ("apply", "-f", str(cfg), "--auto-approve", "--parallelism", "1")
        r = run_mplat(tmp_path, *args, "--timeout", "20", timeout=400)
        refused = proxy.mounts_refused
    print(
        f"\n12 lists, mounts refused, --parallelism 1: exit {r.code} in {r.seconds:.1f}s, "
        f"{refused} mounts refused" + show(r)
    )
    assert refused > 0
    assert r.code == 0, r.text[-3000:]
    assert r.seconds < 60  # generous: a deadlock waits out the 20 s write timeout per blob
