"""The ``crm-workbook`` command: run the workbook from a params file and report progress; fetch example data."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TextIO

from crmlib.errors import (
    ConfigError,
    RunLockedError,
    SourceFileError,
    StageInputMissing,
    WorkbookError,
)
from crmlib.runner import DEFAULT_KERNEL, ProgressEvent, RunSetupError, run_notebooks

__all__ = ["EXIT_OK", "EXIT_FAILED", "EXIT_CONFIG", "EXIT_LOCKED", "build_parser", "main"]

log = logging.getLogger(__name__)

EXIT_OK = 0
#: A notebook (or writing the report) failed; the failed run folder is kept.
EXIT_FAILED = 1
#: The run could not start: invalid params, an input that does not match them (checked before
#: any notebook runs), unknown notebook, missing kernel, nothing to reuse.
EXIT_CONFIG = 2
#: Another run holds the lock of the same run folder.
EXIT_LOCKED = 3
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``crm-workbook``."""
    parser = argparse.ArgumentParser(
        prog="crm-workbook",
        description="Retention Workbook: execute the numbered notebooks into an HTML report.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run the workbook into outputs/<run_name>",
        description=(
            "Execute notebooks/NN_*.ipynb in order with papermill into outputs/<run_name>. "
            "The previous run is replaced only when every notebook succeeded. Notebooks whose "
            "inputs the params do not name are skipped (with only source.experiment_export, "
            "only 07_ab_test runs). Exit codes: 0 ok, 1 a notebook failed, 2 invalid params, "
            "inputs that do not match them, or setup, 3 run already in progress."
        ),
    )
    run.add_argument(
        "--params", required=True, metavar="FILE", help="params YAML, e.g. params/default.yaml"
    )
    run.add_argument("--run-name", metavar="NAME", help="override the params file's run_name")
    which = run.add_mutually_exclusive_group()
    which.add_argument(
        "--only",
        metavar="NN_x",
        help="run just this notebook, reusing the other stages from the last good run",
    )
    which.add_argument(
        "--from",
        dest="start_from",
        metavar="NN_x",
        help="run this notebook and the ones after it (same reuse)",
    )
    run.add_argument(
        "--notebooks",
        default="notebooks",
        metavar="DIR",
        help="notebooks folder (default: notebooks)",
    )
    run.add_argument(
        "--outputs", default="outputs", metavar="DIR", help="outputs folder (default: outputs)"
    )
    run.add_argument(
        "--cell-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="a cell running longer fails its notebook (default: params runner.cell_timeout_s, 3600)",
    )
    run.add_argument(
        "--notebook-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="a notebook running longer fails (default: params runner.notebook_timeout_s, none)",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", help="log what the runner does (to stderr)"
    )
    run.add_argument(
        "--kernel",
        default=DEFAULT_KERNEL,
        metavar="NAME",
        help=f"Jupyter kernel (default: {DEFAULT_KERNEL})",
    )
    datasets = commands.add_parser(
        "datasets",
        help="write example data sets as transactions CSVs (no network)",
        description=(
            "Write a real data set in the transactions contract. cdnow: the CDNOW 1/10 sample "
            "and master logs shipped inside the lifetimes package, as "
            "cdnow_sample_transactions.csv and cdnow_master_transactions.csv, for "
            "params/cdnow.yaml and params/cdnow_master.yaml. Exit codes: 0 ok, 2 not written."
        ),
    )
    datasets.add_argument("name", choices=["cdnow"], help="the data set")
    datasets.add_argument(
        "--out",
        default="data/external",
        metavar="DIR",
        help="folder to write to (default: data/external)",
    )
    return parser


def _seconds(text: str) -> int:
    """A positive whole number of seconds (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole seconds, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 second, got {value}")
    return value


class _Progress:
    """Prints ``[2/7] 02_kpis ... ok (4.1 s)``: the start half when a notebook starts, the rest when it ends."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "skip":
            print(
                f"[{event.index}/{event.total}] {event.notebook} ... skipped",
                file=self.stream,
                flush=True,
            )
        elif event.kind == "start":
            print(
                f"[{event.index}/{event.total}] {event.notebook} ...",
                end="",
                file=self.stream,
                flush=True,
            )
        else:
            seconds = f"{event.seconds:.1f} s" if event.seconds is not None else "?"
            print(f" {event.status} ({seconds})", file=self.stream, flush=True)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a scheduler's timeout or kill) like Ctrl-C, so the partial run is recorded."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    try:
        with _sigterm_as_interrupt():
            result = run_notebooks(
                args.params,
                run_name=args.run_name,
                only=args.only,
                start_from=args.start_from,
                notebooks_dir=args.notebooks,
                outputs_dir=args.outputs,
                kernel_name=args.kernel,
                progress=_Progress(sys.stdout),
                execution_timeout=args.cell_timeout,
                notebook_timeout=args.notebook_timeout,
            )
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (RunSetupError, StageInputMissing, SourceFileError) as exc:
        print(f"Cannot start the run: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:  # e.g. the outputs folder cannot be created
        print(f"Cannot start the run: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except RunLockedError as exc:
        print(f"Refused: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt as exc:
        reason = f" ({exc})" if str(exc) else ""
        print(
            f"\nInterrupted{reason}; what ran is kept in the outputs folder as <run_name>.failed-<timestamp>.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if result.ok:
        for reason in dict.fromkeys(result.skipped.values()):
            print(f"Skipped: {reason}", flush=True)
        print(f"Report: {result.index_html}", flush=True)
        return EXIT_OK
    assert result.failure is not None
    sys.stdout.flush()
    print(f"FAILED: {result.failure.describe()}", file=sys.stderr)
    failed_page = next(
        (result.run_dir / n.html for n in result.notebooks if n.status == "failed" and n.html), None
    )
    if failed_page is not None and failed_page.is_file():
        print(f"Failed notebook (with the error): {failed_page}", file=sys.stderr)
    print(f"Failed run kept in: {result.run_dir}", file=sys.stderr)
    if result.previous_run_dir is not None:
        print(
            f"Previous report left unchanged: {result.previous_run_dir / 'index.html'}",
            file=sys.stderr,
        )
    return EXIT_FAILED


def _datasets(args: argparse.Namespace) -> int:
    # imported here: only this command needs it (and the data set reader it loads)
    from crmlib.datasets import copy_cdnow

    try:
        written = copy_cdnow(args.out)
    except (WorkbookError, OSError) as exc:
        print(f"Cannot write the {args.name} data set: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for which, path in written.items():
        print(f"{which}: {path}", flush=True)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``crm-workbook`` (and ``python -m crmlib.cli``); returns the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 ok (notebooks whose inputs the params do not name are skipped), 1 a notebook
        failed, 2 invalid params, inputs that do not match them, or setup (or a data set not
        written), 3 the run is locked.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "run":
        return _run(args)
    if args.command == "datasets":
        return _datasets(args)
    return EXIT_CONFIG  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
