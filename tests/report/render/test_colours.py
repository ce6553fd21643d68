"""Env colours: one per env, whatever the order or the other envs, on every page."""

from __future__ import annotations

from harness.report.render.colours import env_colour, env_colours


def test_env_colours_are_stable_and_distinct() -> None:
    colours = env_colours(["Production", "Test", "Development"])
    assert colours == env_colours(["Production", "Test", "Development"])
    assert len(set(colours.values())) == 3


def test_an_env_has_one_colour_whatever_the_order_or_the_other_envs() -> None:
    alone = env_colours(["Production"])["Production"]
    assert env_colours(["Development", "Test", "Production"])["Production"] == alone
    assert env_colours(["Test", "Production"])["Production"] == alone
    assert env_colours(["Development"])["Development"] != alone
    assert env_colour("*") == env_colour("*")  # any other name: stable by its name
