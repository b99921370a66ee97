"""Command line of the generator: ``python -m crmlib.synth --customers N --seed S --out DIR``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from crmlib.synth._generate import generate
from crmlib.synth._writer import write

__all__ = ["main"]

# the docstring of crmlib.synth, shown by --help
DESCRIPTION = (
    "Generate a synthetic CRM (customers, orders, messaging events, an experiment) with planted "
    "truth."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m crmlib.synth --customers N --seed S --out DIR``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Process exit status (0 on success).
    """
    parser = argparse.ArgumentParser(prog="python -m crmlib.synth", description=DESCRIPTION)
    parser.add_argument("--customers", type=int, required=True, help="number of customers")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--start", default="2023-01-01", help="first day of the window, YYYY-MM-DD")
    parser.add_argument("--end", default="2025-12-31", help="last day of the window, YYYY-MM-DD")
    parser.add_argument(
        "--dirty-rate", type=float, default=0.002, help="injected bad rows per order (0 disables)"
    )
    parser.add_argument("--compress", action="store_true", help="write .csv.gz files")
    args = parser.parse_args(argv)
    crm = generate(
        args.customers, seed=args.seed, start=args.start, end=args.end, dirty_rate=args.dirty_rate
    )
    paths = write(crm, args.out, compress=args.compress)
    for path in paths.values():
        print(path)
    return 0
