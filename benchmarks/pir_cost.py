"""What a PIR run costs in tokens, cached (the token bound) against naive, and in GPU hours at a stated
throughput. It counts; nothing is scored or timed.

    python benchmarks/pir_cost.py --input limo.jsonl --model Qwen/Qwen2.5-32B-Instruct --tokens-per-s 5000
    python benchmarks/pir_cost.py --input chains.jsonl --project 817:7300   # scaled to 817 chains of 7,300 tokens

Per chain of L tokens with n scored (functional) steps, naive scoring runs (n+1)·L tokens and the cached
scorers L + Σ (tokens after the step + 1), the token bound of docs/pir.md. Steps and modes come from the
rule segmenter and classifier, tokens from the model's tokenizer. `--project N:T` also prints the cost of
N chains of T tokens shaped like the input's: every chain stretched by k = T / mean L, its functional
steps k times as many at the same relative places, so the tokens after the steps grow by k² and the
chains' own tokens by k.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from limopro_plugins.pir.models import load_tokenizer, resolve
from limopro_plugins.pir.records import Chain, read_chains
from limopro_plugins.pir.run import Settings, annotate, answer_text
from limopro_plugins.pir.score import encode


@dataclass
class Cost:
    chains: int = 0
    tokens: int = 0
    steps: int = 0
    cached: float = 0.0
    naive: float = 0.0

    def lines(self, tokens_per_s: float) -> list[str]:
        hours = 3600 * tokens_per_s
        return [
            f"{self.chains} chains, {self.tokens / self.chains:,.0f} tokens and {self.steps / self.chains:.1f} "
            "functional steps per chain",
            f"  cached (token bound): {self.cached:,.0f} tokens = {self.cached / self.tokens:.1f} x the chains, "
            f"{self.cached / hours:,.2f} GPU hours",
            f"  naive:                {self.naive:,.0f} tokens = {self.naive / self.tokens:.1f} x the chains, "
            f"{self.naive / hours:,.2f} GPU hours",
            f"  naive / cached: {self.naive / self.cached:.2f}",
        ]

    def projected(self, chains: int, tokens: float) -> Cost:
        """N chains of T tokens shaped like these (see the module docstring)."""
        k = tokens / (self.tokens / self.chains)
        per_chain = {name: getattr(self, name) / self.chains for name in ("tokens", "steps", "cached", "naive")}
        own = per_chain["tokens"]
        return Cost(
            chains,
            round(chains * k * own),
            round(chains * k * per_chain["steps"]),
            chains * (k * own + k * k * (per_chain["cached"] - own)),
            chains * (k * own + k * k * (per_chain["naive"] - own)),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--model", default="smollm2", help="whose tokenizer counts (default: %(default)s)")
    parser.add_argument(
        "--tokens-per-s", type=float, default=5000.0, help="one GPU's prompt throughput (default: %(default)s)"
    )
    parser.add_argument("--project", metavar="N:T", help="also the cost of N chains of T tokens like these")
    args = parser.parse_args()
    tokenizer = load_tokenizer(resolve(args.model))
    settings = Settings(
        input=args.input,
        model=args.model,
        backend="transformers",
        dtype="float32",
        answer="solution",
        score_all=False,
        max_tokens=None,
        schema=None,
    )
    cost = Cost()
    for chain in read_chains(args.input):
        if not isinstance(chain, Chain):
            continue
        annotation = annotate(chain, settings)
        bridge, answer = answer_text(chain, settings.answer)
        encoded = encode(tokenizer, chain.question, [s.text for s in annotation.steps], bridge, answer)
        which = [i for i, mode in enumerate(annotation.modes) if mode.functional]
        length, starts = encoded.total, encoded.step_starts()
        cost.chains += 1
        cost.tokens += length
        cost.steps += len(which)
        cost.cached += length + sum(length - starts[i] - len(encoded.steps[i]) + 1 for i in which)
        cost.naive += (len(which) + 1) * length
    print(f"at {args.tokens_per_s:,.0f} prompt tokens/s per GPU")
    print("\n".join(cost.lines(args.tokens_per_s)))
    if args.project:
        chains, tokens = args.project.split(":")
        print(f"projected to {int(chains)} chains of {float(tokens):,.0f} tokens:")
        print("\n".join(cost.projected(int(chains), float(tokens)).lines(args.tokens_per_s)))


if __name__ == "__main__":
    main()
