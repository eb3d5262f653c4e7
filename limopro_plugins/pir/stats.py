"""Step counts, token counts and PIR values per mode over a set of chains (meta.json's `modes`, the
analyze command's table)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from limopro_plugins.text import Mode


@dataclass
class StepRecord:
    """What the statistics need of one step."""

    mode: str
    tokens: int
    pir: float | None = None


@dataclass
class PatternStats:
    """Step counts, token counts and PIR values per mode over a set of chains."""

    chains: int = 0
    unit: str = "chains"
    steps: dict[str, int] = field(default_factory=lambda: {m.value: 0 for m in Mode})
    tokens: dict[str, int] = field(default_factory=lambda: {m.value: 0 for m in Mode})
    pirs: dict[str, list[float]] = field(default_factory=lambda: {m.value: [] for m in Mode})

    def add(self, steps: Iterable[StepRecord]) -> None:
        self.chains += 1
        for step in steps:
            self.steps[step.mode] += 1
            self.tokens[step.mode] += step.tokens
            if step.pir is not None:
                self.pirs[step.mode].append(step.pir)

    def shares(self) -> dict[str, float]:
        """Token share of each mode (sums to 1 when there are any tokens)."""
        total = sum(self.tokens.values())
        return {m: (t / total if total else 0.0) for m, t in self.tokens.items()}

    def to_json(self) -> dict[str, dict[str, float]]:
        shares = self.shares()
        return {m: {"steps": self.steps[m], "token_share": round(shares[m], 4)} for m in self.steps}

    def table(self) -> str:
        from tabulate import tabulate

        shares = self.shares()
        rows = [
            [
                m,
                self.steps[m],
                round(self.steps[m] / max(self.chains, 1), 2),
                self.tokens[m],
                f"{100 * shares[m]:.1f}%",
                len(self.pirs[m]) or "",
            ]
            for m in self.steps
        ]
        rows.append(
            [
                "all",
                sum(self.steps.values()),
                round(sum(self.steps.values()) / max(self.chains, 1), 2),
                sum(self.tokens.values()),
                "100.0%" if sum(self.tokens.values()) else "0.0%",
                sum(map(len, self.pirs.values())) or "",
            ]
        )
        return tabulate(
            rows, headers=["mode", "steps", "steps/chain", "tokens", "token share", "scored"], tablefmt="github"
        )


def stats_from_structure(rows: Iterable[dict[str, Any]]) -> PatternStats:
    stats = PatternStats()
    for row in rows:
        stats.add(StepRecord(s["mode"], s["tokens"], s.get("pir")) for s in row["steps"])
    return stats
