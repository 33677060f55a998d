"""Install and first run: the demo's own seeder, and what the scripts may depend on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mplat.values import mediatypes as mt
from tests.support.cli import run_cli, write_config
from tests.support.paths import ROOT
from tests.support.registry import RegistryServer
from tests.support.seed import get_manifest

SEEDER = ROOT / "scripts" / "seed_demo.py"


def seed_demo(registry: RegistryServer, repo: str, cwd: Path) -> list[str]:
    # -I -S: no site-packages, no cwd or script dir tricks: the seeder is standard library only
    # and needs neither mplat nor the test tree.
    argv = [sys.executable, "-I", "-S", str(SEEDER), "--registry", registry.address]
    proc = subprocess.run(
        [*argv, "--repository", repo],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_demo_seeder_serves_the_example_file(
    registry: RegistryServer, repo: str, tmp_path: Path
) -> None:
    lines = seed_demo(registry, repo, tmp_path)
    assert [line.split()[0] for line in lines] == [
        f"{registry.address}/{repo}:{tag}" for tag in ("alpine", "nanoserver", "nanoserver-1709")
    ]
    assert seed_demo(registry, repo, tmp_path) == lines  # same images, same digests

    example = (ROOT / "examples" / "manifests.yaml").read_text()
    text = example.replace("localhost:5000", registry.address).replace("acme/helloworld", repo)
    cfg = write_config(tmp_path, text)
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 2
    applied = run_cli("apply", "-f", str(cfg), "--auto-approve")
    assert applied.code == 0, applied.err
    got = get_manifest(registry.url, repo, "latest")
    assert got is not None
    body, media_type = got
    assert media_type == mt.DOCKER_LIST
    doc = json.loads(body)
    assert [m["digest"] for m in doc["manifests"]] == [line.split()[1] for line in lines]
    assert [m["platform"] for m in doc["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "amd64", "os": "windows", "os.version": "10.0.14393.2068"},
        {"architecture": "amd64", "os": "windows", "os.version": "10.0.16299.248"},
    ]
    assert run_cli("plan", "-f", str(cfg), "--detailed-exitcode").code == 0


def test_demo_seeder_reports_an_unreachable_registry(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(SEEDER), "--registry", "127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("seeding failed: cannot reach 127.0.0.1:9")
    assert "Traceback" not in proc.stderr


def test_scripts_do_not_use_the_test_tree() -> None:
    for script in ("demo.sh", "seed_demo.py", "lib.sh"):
        text = (ROOT / "scripts" / script).read_text()
        assert "tests.support" not in text and "tests/" not in text, script
