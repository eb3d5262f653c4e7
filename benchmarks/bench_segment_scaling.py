"""Time of segmentation against paragraph length, for the paragraphs a looping model writes.

A model stuck in a loop can fill its whole token budget with one paragraph of "Wait, no." sentences.
Every such sentence is functional, so every one starts a step; `rule_steps` and `segment` must still
take time linear in the text; so must `segment` on thousands of such paragraphs. Prints the time per
unit for 1,000 to 16,000 units and its ratio to the shortest: about 1 when linear. The first version
of the resume search read the rest of the paragraph after every functional sentence (and a span query
stepped over every earlier marker): its time per sentence grew about twelvefold from 1,000 to 16,000
sentences.
`segment` inserted each paragraph's steps into the list of paragraph starts, moving its tail.

    python -m benchmarks.bench_segment_scaling
"""

from __future__ import annotations

import time
from collections.abc import Callable

from limopro_plugins.pir.segment import rule_steps, segment

UNITS = ("Wait, no. ", "Hmm, wait. It is 3. ", "Wait.\n", "So wait. x. ", "Wait, no. So x.\n\n")
"""The repeated units: one paragraph of functional sentences, or (the last) one paragraph per unit."""
SIZES = (1000, 4000, 16000)


def per_unit(function: Callable[[str], object], text: str, n: int) -> float:
    """Best of three runs, in µs per unit."""
    best = min(_timed(function, text) for _ in range(3))
    return best / n * 1e6


def _timed(function: Callable[[str], object], text: str) -> float:
    start = time.perf_counter()
    function(text)
    return time.perf_counter() - start


def main() -> None:
    rule_steps("Wait.")  # builds the marker automaton outside the timings
    print(f"{'unit':24} {'function':10} " + " ".join(f"{n:>14,}" for n in SIZES))
    for unit in UNITS:
        for function in (rule_steps, segment):
            times = [per_unit(function, unit * n, n) for n in SIZES]
            cells = " ".join(f"{t:6.1f} µs x{t / times[0]:4.2f}" for t in times)
            print(f"{unit!r:24} {function.__name__:10} {cells}")


if __name__ == "__main__":
    main()
