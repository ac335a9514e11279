"""Argument types of the command line, shared by ``sim.cli`` and ``sim.validation.commands``.

They live below both (the validation commands add their own subcommands to the ``sim``
parser) so that neither imports the other's private helpers: the imports of ``sim`` go one
way (see the layers in pyproject.toml and the README's Layout).
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


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
