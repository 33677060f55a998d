"""``mplat plan``'s own logic: ``--target`` parsing, and targets that match nothing."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from mplat.cli.commands import plan
from mplat.cli.errors import UsageError
from mplat.config.loader import load_config_text
from mplat.config.model import Config
from mplat.registry.api import Notices, Registry
from mplat.values.reference import parse_repository

CONFIG = """\
version: 1
lists:
  - repository: r.example/acme/app
    tags: [latest, "1.0"]
    manifests: [{image: r.example/acme/src:1}]
"""


class Untouchable:
    """A pool that fails the test if planning reaches it."""

    @property
    def notices(self) -> Notices:
        raise AssertionError("the pool was used")

    def client(self, registry: str) -> Registry:
        raise AssertionError(f"the pool was asked for {registry}")


def config() -> Config:
    return load_config_text(CONFIG, "m.yaml")


def test_no_target_means_every_tag() -> None:
    assert plan._targets([]) is None


def test_targets_are_repository_and_tag_pairs() -> None:
    targets = plan._targets(["r.example/acme/app:latest", "r.example/acme/app:1.0"])
    assert targets is not None
    assert {t.address for t in targets} == {"r.example/acme/app:latest", "r.example/acme/app:1.0"}
    assert {t.repository for t in targets} == {parse_repository("r.example/acme/app")}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("r.example/acme/app", "--target 'r.example/acme/app': expected REPOSITORY:TAG"),
        (
            "r.example/acme/app:1@sha256:" + "a" * 64,
            "--target 'r.example/acme/app:1@sha256:" + "a" * 64 + "': expected REPOSITORY:TAG",
        ),
    ],
)
def test_a_target_must_name_one_tag(value: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        plan._targets([value])
    assert str(caught.value) == message


def test_an_unparsable_target_says_which_flag() -> None:
    with pytest.raises(UsageError, match=r"^--target: "):
        plan._targets(["UPPER/Case:tag"])


def test_a_target_matching_nothing_is_refused_before_any_request() -> None:
    args = argparse.Namespace(target=["r.example/acme/app:lates"])
    with pytest.raises(UsageError) as caught:
        asyncio.run(plan.make_plan(args, config(), Untouchable()))
    assert str(caught.value) == (
        "no declared tag matches --target r.example/acme/app:lates; "
        "did you mean: r.example/acme/app:latest, r.example/acme/app:1.0"
    )
