"""``ConfigError``'s text is what the CLI prints: one problem alone, several under a heading."""

from __future__ import annotations

from mplat.config.model import ConfigError, ConfigProblem, Location


def problem(line: int, message: str) -> ConfigProblem:
    return ConfigProblem(Location("m.yaml", line, 1), message)


def test_one_problem_is_its_own_line() -> None:
    assert str(ConfigError([problem(3, "bad")])) == "m.yaml:3:1: bad"
    assert str(ConfigError.at("m.yaml", 0, 0, "no such file")) == "m.yaml: no such file"


def test_several_problems_are_sorted_under_a_heading() -> None:
    error = ConfigError([problem(7, "second"), problem(3, "first")])
    assert [p.message for p in error.problems] == ["first", "second"]
    assert str(error) == "invalid configuration\n  m.yaml:3:1: first\n  m.yaml:7:1: second"
