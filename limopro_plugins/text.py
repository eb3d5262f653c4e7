"""Text conventions shared by the three uses (PIR refinement, evaluation, training data).

Only constants and nothing heavy: every layer of the package may import this module.
"""

from __future__ import annotations

import re
from enum import Enum

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
"""The tags around a reasoning model's thinking; the final solution follows `THINK_CLOSE`."""

PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n\s*")
"""A blank line (with the whitespace after it): Unix or Windows (\\r\\n) line ends, spaces or tabs allowed."""


class Mode(str, Enum):
    """The four reasoning modes of the paper."""

    PROGRESSIVE = "progressive"
    VERIFICATION = "verification"
    MULTI_METHOD = "multi_method"
    ERROR_CORRECTION = "error_correction"

    @property
    def functional(self) -> bool:
        return self is not Mode.PROGRESSIVE


FUNCTIONAL_MODES = (Mode.VERIFICATION, Mode.MULTI_METHOD, Mode.ERROR_CORRECTION)
MODE_NAMES = tuple(mode.value for mode in Mode)
"""The modes' names, in the paper's order: the keys of every per-mode table and metric."""
