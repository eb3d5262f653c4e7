"""Convert reasoning data to LLaMA-Factory training records (sharegpt or alpaca).

The command line of `train.convert`, whose docstring says what the records hold.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from limopro_plugins import PAPER_SYSTEM_PROMPT
from limopro_plugins.cli import add_field_flags, fields_from
from limopro_plugins.pir.records import SCHEMAS, InputError
from limopro_plugins.train.convert import FORMATS, convert_file
from limopro_plugins.train.dataset_info import RegistrationError, locked_registry


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m limopro_plugins.convert", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="JSON / JSONL / Parquet file or hub dataset NAME[:SPLIT]")
    parser.add_argument("--output", required=True, type=Path, help="JSONL file to write")
    parser.add_argument("--format", choices=FORMATS, default="sharegpt")
    parser.add_argument(
        "--think",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="wrap the reasoning in <think> tags (default: keep the source text)",
    )
    parser.add_argument("--system", default=PAPER_SYSTEM_PROMPT, help="system message ('' for none)")
    parser.add_argument("--schema", choices=SCHEMAS)
    add_field_flags(parser)
    parser.add_argument("--rejects", type=Path, help="where bad records go (default: OUTPUT.rejects.jsonl)")
    parser.add_argument("--register", metavar="DIR", help="also register the output in DIR/dataset_info.json")
    parser.add_argument("--name", help="dataset name for --register (default: output file stem)")
    parser.add_argument("--force", action="store_true", help="replace an existing, different entry")
    args = parser.parse_args(argv)

    fields = fields_from(args)

    def convert() -> None:
        counts = convert_file(
            args.input,
            args.output,
            fmt=args.format,
            think=args.think,
            system=args.system,
            schema=args.schema,
            fields=fields,
            rejects=args.rejects,
        )
        print(f"{counts.line()} -> {args.output}")

    try:
        if args.register:  # the entry is checked, under the registration lock, before anything is written
            name = args.name or args.output.name.split(".")[0]
            with locked_registry(Path(args.register)) as registry:
                registry.check(name, args.output, args.format, args.force)
                convert()
                registry.add(name, args.output, args.format, args.force)
            print(f"registered {name!r} in {Path(args.register) / 'dataset_info.json'}")
        else:
            convert()
    except (InputError, RegistrationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write {error.filename or args.output}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
