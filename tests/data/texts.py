"""Texts and files several test modules read."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "limopro_plugins" / "data" / "sample_chains.jsonl"
"""The bundled sample of reasoning chains (LIMO schema), the prune command's default input."""
