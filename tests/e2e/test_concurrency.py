"""Two writers at once, and saved plans that went stale: no torn state, no silent overwrite.

Two ``mplat apply`` subprocesses run at the same moment against one real registry with
configurations that want different lists on the same tags. Whatever the interleaving,
each run ends with exit 0 or a clear error, every contested tag ends holding exactly one
of the two desired lists, uncontested tags hold their own run's list, and every list's
children are in the repository. A saved plan applied after another writer moved a tag is
refused as stale, and nothing at all is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.faultproxy import TagKey, broken_tags, snapshot_tags
from tests.support.paths import ROOT
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImage, head_manifest, push_index, seed_image

PLATFORMS = (("amd64", None), ("arm64", None), ("arm", "v7"), ("ppc64le", None))


def seed_sources(registry: RegistryServer, source: str) -> dict[str, SeededImage]:
    """Two builds ("a", "b") of each platform, in a repository other than the target."""
    images = {}
    for arch, variant in PLATFORMS:
        for salt in ("a", "b"):
            tag = f"{arch}{variant or ''}-{salt}"
            images[tag] = seed_image(
                registry.url,
                source,
                tag,
                os="linux",
                architecture=arch,
                variant=variant,
                salt=salt,
            )
    return images


def config(addr: str, target: str, source: str, salt: str, tags: range) -> str:
    """One list per tag; the platforms vary with the tag, the builds with ``salt``."""
    lines = ["version: 1", "lists:"]
    for i in tags:
        picked = [PLATFORMS[0], PLATFORMS[1 + i % 3]] + ([PLATFORMS[3]] if i % 2 else [])
        picked = list(dict.fromkeys(picked))
        lines += [f"  - repository: {addr}/{target}", f"    tags: [t{i}]", "    manifests:"]
        lines += [
            f"      - image: {addr}/{source}:{arch}{variant or ''}-{salt}"
            for arch, variant in picked
        ]
    return "\n".join(lines) + "\n"


def env(tmp_path: Path) -> dict[str, str]:
    out = dict(os.environ)
    out["MPLAT_CACHE_DIR"] = str(tmp_path / "cache")
    out["DOCKER_CONFIG"] = str(tmp_path / "docker")
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    return out


def desired(tmp_path: Path, cfg: Path) -> dict[str, str]:
    """tag -> the digest of the list this configuration wants there."""
    proc = subprocess.run(
        [sys.executable, "-m", "mplat", "plan", "-f", str(cfg), "--json"],
        capture_output=True,
        text=True,
        env=env(tmp_path),
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {c["tag"]: c["after"]["digest"] for c in json.loads(proc.stdout)["changes"]}


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [ln for ln in (self.out + self.err).splitlines() if ln.startswith("Error")]


def apply_both(tmp_path: Path, first: Path, second: Path) -> tuple[Outcome, Outcome]:
    """Start both applies back to back and wait for both."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mplat", "apply", "-f", str(cfg), "--auto-approve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env(tmp_path),
            cwd=tmp_path,
        )
        for cfg in (first, second)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        outs.append(Outcome(p.returncode, out, err))
    return outs[0], outs[1]


def assert_clean(run: Outcome, addr: str) -> None:
    text = run.out + run.err
    assert "Traceback" not in text, run.err[-4000:]
    assert run.code in (0, 1), text[-4000:]
    if run.code == 1:
        assert run.error_lines, text[-4000:]
        for line in run.error_lines:
            assert addr in line, line


def test_two_applies_at_once_on_the_same_tags(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr, target, source = registry.address, f"{repo}/app", f"{repo}/src"
    seed_sources(registry, source)
    a_tags, b_tags = range(0, 25), range(10, 35)
    cfg_a = tmp_path / "a.yaml"
    cfg_b = tmp_path / "b.yaml"
    cfg_a.write_text(config(addr, target, source, "a", a_tags))
    cfg_b.write_text(config(addr, target, source, "b", b_tags))
    want_a, want_b = desired(tmp_path, cfg_a), desired(tmp_path, cfg_b)
    contested = set(want_a) & set(want_b)
    assert len(contested) == 15 and all(want_a[t] != want_b[t] for t in contested)

    for round_no, (first, second) in enumerate([(cfg_a, cfg_b), (cfg_b, cfg_a), (cfg_a, cfg_b)]):
        one, two = apply_both(tmp_path, first, second)
        assert_clean(one, addr)
        assert_clean(two, addr)
        state = {t: d for (r, t), d in snapshot_tags(registry.url).items() if r == target}
        wrong = [
            f"{t}: {state.get(t)}"
            for t in sorted(set(want_a) | set(want_b))
            if state.get(t) not in ({want_a.get(t), want_b.get(t)} - {None})
        ]
        assert wrong == [], wrong
        for t in set(want_a) - contested:
            assert state[t] == want_a[t], t
        for t in set(want_b) - contested:
            assert state[t] == want_b[t], t
        tags: dict[TagKey, str] = {(target, t): d for t, d in state.items()}
        broken = broken_tags(registry.url, tags)
        refused = sum("changed since plan" in ln for ln in one.error_lines + two.error_lines)
        held_a = sum(state[t] == want_a[t] for t in contested)
        print(
            f"\nround {round_no + 1}: exits {one.code}/{two.code}; contested tags: {held_a} "
            f"hold A's list, {len(contested) - held_a} B's; {refused} writes refused as "
            f"changed since plan; broken {len(broken)}"
        )
        assert broken == [], broken


def test_stale_saved_plan_is_refused_and_writes_nothing(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    addr, target, source = registry.address, f"{repo}/app", f"{repo}/src"
    seed_sources(registry, source)
    # The target holds an older list at t0 (its child must be in the target repository).
    older = seed_image(registry.url, target, "old", os="linux", architecture="amd64", salt="o")
    push_index(registry.url, target, "t0", [(older, {"os": "linux", "architecture": "amd64"})])
    cfg = tmp_path / "manifests.yaml"
    cfg.write_text(config(addr, target, source, "b", range(0, 4)))
    plan_file = tmp_path / "plan.json"

    planned = run_cli("plan", "-f", str(cfg), "--out", str(plan_file))
    assert planned.code == 0, planned.out + planned.err
    assert "1 to update" in planned.out and "3 to create" in planned.out
    doc = json.loads(plan_file.read_text())
    children = {cp["digest"] for c in doc["changes"] for cp in c["desired"]["children"]}
    assert children, "the plan should copy children from the source repository"

    # Another writer: moves t0 (planned as an update) and creates t2 (planned as a create).
    mover = seed_image(registry.url, target, "mover", os="linux", architecture="arm64", salt="m")
    push_index(registry.url, target, "t0", [(mover, {"os": "linux", "architecture": "arm64"})])
    other = seed_image(registry.url, target, "other", os="linux", architecture="amd64", salt="x")
    push_index(registry.url, target, "t2", [(other, {"os": "linux", "architecture": "amd64"})])
    before = snapshot_tags(registry.url)

    applied = run_cli("apply", str(plan_file), "-f", str(cfg))
    assert applied.code == 1, applied.out + applied.err
    assert "stale" in applied.err, applied.err
    assert f"{addr}/{target}:t0" in applied.err and f"{addr}/{target}:t2" in applied.err
    assert f"{addr}/{target}:t1" not in applied.err  # only the tags that moved are named
    assert "Traceback" not in applied.err
    assert snapshot_tags(registry.url) == before  # no tag written
    for digest in sorted(children):  # not even a child copied in advance
        assert head_manifest(registry.url, target, digest) is None, digest
    assert broken_tags(registry.url, {k: v for k, v in before.items() if k[0] == target}) == []
