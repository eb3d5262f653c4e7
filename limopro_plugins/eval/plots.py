"""matplotlib, set up once for the plots the analyze and report commands write."""

from __future__ import annotations

from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend: the plots are files, written also where there is no display.
    Imported on first use, so the commands start without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
