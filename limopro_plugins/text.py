"""Text conventions shared by the three uses (PIR refinement, evaluation, training data).

Only constants and nothing heavy: every layer of the package may import this module.
"""

from __future__ import annotations

import re

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
"""The tags around a reasoning model's thinking; the final solution follows `THINK_CLOSE`."""

PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n\s*")
"""A blank line (with the whitespace after it): Unix or Windows (\\r\\n) line ends, spaces or tabs allowed."""
