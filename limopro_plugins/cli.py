"""What the command modules share: the `--*-field` flags that name a record's fields."""

from __future__ import annotations

import argparse

from limopro_plugins.pir.records import Fields

FIELD_NAMES = ("question", "reasoning", "solution", "answer")
"""The parts of a record the `--<name>-field` flags can point at (the attributes of `Fields`)."""


def add_field_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """`--question-field`, `--reasoning-field`, `--solution-field`, `--answer-field`."""
    for name in FIELD_NAMES:
        parser.add_argument(f"--{name}-field", help=f"field holding the {name} (overrides detection)")


def fields_from(args: argparse.Namespace) -> Fields:
    """The field names the flags of `add_field_flags` set (None: the schema's default)."""
    return Fields(**{name: getattr(args, f"{name}_field") for name in FIELD_NAMES})
