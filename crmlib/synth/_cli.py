"""Command line of the generator: ``python -m crmlib.synth [--profile P] --customers N --out DIR``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from crmlib.synth._generate import generate
from crmlib.synth._retail import generate_retail_log
from crmlib.synth._retail_catalog import RETAIL_END, RETAIL_START
from crmlib.synth._retail_writer import write_retail_log
from crmlib.synth._writer import write

__all__ = ["PROFILES", "main"]

# the docstring of crmlib.synth, shown by --help
DESCRIPTION = (
    "Generate a synthetic CRM (customers, orders, messaging events, an experiment) with planted "
    "truth."
)
EPILOG = (
    "profiles: 'default' writes the contract tables (customers, transactions, events, "
    "assignments, surveys, marketing_spend), suppression.csv, truth_customers.csv and truth.json "
    "(window 2023-01-01 to 2025-12-31); 'retail-log' writes one line-item retail export, transactions.csv (Invoice, "
    "StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, Country: guest invoices, "
    "cancellation invoices, minute ticks, free items, large wholesale orders, prices with "
    "fractions of a cent, no dropout, data starting mid-history), truth_customers.csv and "
    f"truth.json (window {RETAIL_START} to {RETAIL_END})."
)
#: The generator's profiles and their default windows (first day, last day).
PROFILES: dict[str, tuple[str, str]] = {
    "default": ("2023-01-01", "2025-12-31"),
    "retail-log": (RETAIL_START, RETAIL_END),
}
DEFAULT_DIRTY_RATE = 0.002


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m crmlib.synth [--profile P] --customers N --seed S --out DIR``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Process exit status (0 on success; argparse exits with 2 on a usage error).
    """
    parser = argparse.ArgumentParser(
        prog="python -m crmlib.synth", description=DESCRIPTION, epilog=EPILOG
    )
    parser.add_argument(
        "--profile",
        choices=list(PROFILES),
        default="default",
        help="what to generate (default: the embedded sample's CRM)",
    )
    parser.add_argument("--customers", type=int, required=True, help="number of customers")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--start", default=None, help="first day of the window, YYYY-MM-DD (default per profile)"
    )
    parser.add_argument(
        "--end", default=None, help="last day of the window, YYYY-MM-DD (default per profile)"
    )
    parser.add_argument(
        "--dirty-rate",
        type=float,
        default=None,
        help=f"default profile only: injected bad rows per order (default {DEFAULT_DIRTY_RATE}; 0 disables)",
    )
    parser.add_argument("--compress", action="store_true", help="write .csv.gz files")
    args = parser.parse_args(argv)
    start, end = PROFILES[args.profile]
    start, end = args.start or start, args.end or end
    if args.profile == "retail-log":
        if args.dirty_rate is not None:
            parser.error("--dirty-rate applies to the default profile only, not to retail-log")
        retail = generate_retail_log(args.customers, seed=args.seed, start=start, end=end)
        paths = write_retail_log(retail, args.out, compress=args.compress)
    else:
        dirty_rate = DEFAULT_DIRTY_RATE if args.dirty_rate is None else args.dirty_rate
        crm = generate(args.customers, seed=args.seed, start=start, end=end, dirty_rate=dirty_rate)
        paths = write(crm, args.out, compress=args.compress)
    for path in paths.values():
        print(path)
    return 0
