"""Argument types of the command line, shared by ``sim.cli`` and ``sim.validation.commands``.

Whole numbers with plain messages, and numbers bounded as the schema bounds a run setting (the
bounds are read from ``sim.scenario.schema``, never restated). They live below both commands
modules (the validation commands add their own subcommands to the ``sim`` parser), so that
neither imports the other's helpers: imports go down the layers (pyproject.toml, README).
"""

from __future__ import annotations

import argparse


def int_at_least(minimum: int):
    """An argparse type: a whole number of at least ``minimum``, with a plain message."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def int_between(minimum: int, maximum: int, why: str = ""):
    """An argparse type: a whole number in ``minimum..maximum`` (``why``: the bound's source)."""
    at_least = int_at_least(minimum)

    def parse(text: str) -> int:
        value = at_least(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}{why}, not {value}")
        return value

    return parse


def run_setting(name: str, offset: int = 0):
    """An argparse type bounded like ``run.<name>`` in the schema (read there, not restated)."""
    from annotated_types import Ge, Gt, Le, Lt

    from sim.scenario.schema import RunSettings

    low, high = 0, None
    for bound in RunSettings.model_fields[name].metadata:
        if isinstance(bound, Ge | Gt):
            low = bound.ge if isinstance(bound, Ge) else bound.gt + 1
        elif isinstance(bound, Le | Lt):
            high = bound.le if isinstance(bound, Le) else bound.lt - 1
    return int_between(low, high + offset, f" (run.{name}'s bound in the schema)")


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
