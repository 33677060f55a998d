"""examples/cron/: the crontab line is valid cron and shell and mails only on drift or error;
the Kubernetes CronJob validates against Kubernetes' own schemas (kubernetes-validate,
strict) and fits the image the Dockerfile builds."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.paths import ROOT
from tests.support.tools import tool

FOLDER = ROOT / "examples" / "cron"
CRONTAB = FOLDER / "crontab"
CRONJOB = FOLDER / "cronjob.yaml"
# minute, hour, day of month, month, day of week
RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def cron_field_ok(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        m = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        if m is None:
            return False
        numbers = [int(n) for n in (m[2], m[3]) if n is not None]
        if any(not low <= n <= high for n in numbers) or (m[4] is not None and int(m[4]) < 1):
            return False
    return True


def jobs() -> list[tuple[list[str], str]]:
    """The crontab's job lines as (five time fields, command)."""
    found = []
    for line in CRONTAB.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.fullmatch(r"[A-Z_]+=\S*", line):  # MAILTO=...
            continue
        fields = line.split(None, 5)
        found.append((fields[:5], fields[5]))
    return found


def test_the_crontab_line_is_valid_cron_and_shell() -> None:
    ((fields, command),) = jobs()
    for field, (low, high) in zip(fields, RANGES, strict=True):
        assert cron_field_ok(field, low, high), field
    assert "%" not in command.replace("\\%", "")  # cron turns a bare % into a newline
    assert "mplat plan" in command and "--detailed-exitcode" in command
    check = subprocess.run(["sh", "-n", "-c", command], capture_output=True, text=True)
    assert (check.returncode, check.stderr) == (0, "")


@pytest.mark.parametrize(("code", "mails"), [(0, False), (2, True), (1, True)])
def test_the_job_prints_so_cron_mails_only_on_drift_or_error(
    tmp_path: Path, code: int, mails: bool
) -> None:
    """The command as cron runs it (sh -c), with a stand-in mplat exiting ``code``."""
    ((_, command),) = jobs()
    checkout = tmp_path / "config"
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    fake = tmp_path / "mplat"
    fake.write_text(f'#!/bin/sh\necho "the plan: $*"\nexit {code}\n')
    fake.chmod(0o755)
    command = command.replace("/srv/mplat-config", str(checkout)).replace(
        "/opt/mplat/bin/mplat", str(fake)
    )
    command = command.replace("git pull -q --ff-only", "true")  # no remote to pull from here
    run = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
    printed = run.stdout + run.stderr
    if mails:
        assert printed.splitlines()[0] == f"mplat plan exited {code}"
        assert "the plan: plan -f manifests.yaml --detailed-exitcode --no-color" in printed
    else:
        assert printed == ""


def cronjob() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(CRONJOB.read_text())
    return data


@pytest.mark.parametrize(
    "version", ["1.31.0", None], ids=["oldest-with-podFailurePolicy-GA", "latest"]
)
def test_the_cronjob_validates_strictly_against_kubernetes_schemas(version: str | None) -> None:
    validator = tool("kubernetes-validate", "in the test extra: pip install '.[test]'")
    args = [validator, "--strict", *(["-k", version] if version else []), str(CRONJOB)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed for resource cronjob/mplat-drift" in result.stdout + result.stderr


def test_the_cronjob_runs_the_drift_plan_in_the_image_as_its_user() -> None:
    job = cronjob()
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    spec = job["spec"]
    assert all(
        cron_field_ok(f, low, high)
        for f, (low, high) in zip(spec["schedule"].split(), RANGES, strict=True)
    )
    assert spec["concurrencyPolicy"] == "Forbid"
    job_spec = spec["jobTemplate"]["spec"]
    (rule,) = job_spec["podFailurePolicy"]["rules"]
    assert (rule["action"], rule["onExitCodes"]["values"]) == ("FailJob", [2])  # drift
    pod = job_spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][0] == "plan" and "--detailed-exitcode" in container["args"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = re.search(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    assert uid is not None
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsNonRoot"]) == (
        int(uid[1]),
        True,
    )
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    home = re.search(r"--home-dir (\S+)", dockerfile)
    assert home is not None
    assert mounts["registry-credentials"]["mountPath"] == f"{home[1]}/.docker"
    assert mounts["registry-credentials"]["readOnly"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "MPLAT_CACHE_DIR", "value": mounts["cache"]["mountPath"]} in container["env"]
