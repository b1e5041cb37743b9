"""The ``replearn`` command line.

    replearn --version
    replearn list [TOPIC | WORD] [--markdown]
    replearn info NAME                      (also: replearn run NAME --help)
    replearn run NAME [--out DIR] [--seed N] [--device cpu|cuda|auto] [--resume]
                      [--preset P] [--set key=value ...]
    replearn claims [TOPIC] [--quick] [--strict] [--out DIR]
    replearn report RUN_DIR
    replearn arch NAME [--input-shape B,C,H,W] [--preset P] [--set key=value ...]
    replearn data list | verify [NAME] | path NAME | download [NAME]

Exit codes: 0 success, 1 a claim fails under ``claims --strict``, 2 bad input (one line on
stderr, no traceback), 3 the NaN guard aborted training, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

EXIT_USAGE = 2
EXIT_NONFINITE = 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"replearn: error: {message} (see '{self.prog} --help')\n")


def _build_parser(run_parser: bool = False) -> argparse.ArgumentParser:
    """The parser of ``replearn`` (or, with ``run_parser``, of its ``run`` sub-command)."""
    from replearn import __version__

    p = _Parser(prog="replearn", description="The representation-learning curriculum, runnable.")
    p.add_argument("--version", action="version", version=f"replearn {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ls = sub.add_parser("list", help="registered methods and experiments")
    ls.add_argument(
        "topic", nargs="?", help="a topic (fundamentals) or a word to search (gpt, attention)"
    )
    ls.add_argument("--markdown", action="store_true", help="print the docs/coverage.md table")

    info = sub.add_parser("info", help="what an experiment or method is, its presets and keys")
    info.add_argument("name", help="an experiment (mlp) or a method (fundamentals.mlp)")

    run = sub.add_parser("run", help="run an experiment into a run folder")
    run.add_argument("name", help="experiment name (see 'replearn list')")
    run.add_argument("--out", type=Path, help="run folder (default runs/NAME-TIMESTAMP)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    run.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    run.add_argument("--preset", help="a named preset of the experiment (e.g. tiny, quick)")
    run.add_argument(
        "--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE"
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--no-report", action="store_true", help="skip plots and report.html")
    run.add_argument(
        "--reference",
        action="store_true",
        help="run every replearn layer on its from-scratch path (same math, slower)",
    )
    if run_parser:
        return run

    cl = sub.add_parser("claims", help="measure the course's claims")
    cl.add_argument("topic", nargs="?")
    cl.add_argument("--quick", action="store_true", help="use each experiment's quick preset")
    cl.add_argument("--out", type=Path, help="default runs/claims (runs/claims-quick with --quick)")
    cl.add_argument("--seed", type=int, default=0)
    cl.add_argument("--strict", action="store_true", help="exit 1 when a claim fails")

    rp = sub.add_parser("report", help="rebuild a run's report.html")
    rp.add_argument("run_dir", type=Path)

    ar = sub.add_parser(
        "arch",
        help="per-layer table of the model an experiment trains (or a method's example)",
    )
    ar.add_argument("model", help="an experiment (mlp, gpt-shakespeare) or a method (cnn.resnet)")
    ar.add_argument(
        "--input-shape",
        help="comma-separated, batch first (B,C,H,W); a method also takes C,H,W (batch 1)",
    )
    ar.add_argument("--preset", help="the experiment's preset (e.g. tiny)")
    ar.add_argument(
        "--set", dest="overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE"
    )

    da = sub.add_parser("data", help="data sets: list, verify, path, download")
    da_sub = da.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    da_sub.add_parser("list", help="every data set, where its files are, embedded ones")
    ver = da_sub.add_parser("verify", help="check the SHA-256 of the files present")
    ver.add_argument("name", nargs="?", help="one data set (default: all)")
    pa = da_sub.add_parser("path", help="the folder (or file) a data set is read from")
    pa.add_argument("name")
    dl = da_sub.add_parser("download", help="fetch missing files, verified, into the cache")
    dl.add_argument("name", nargs="?", help="one data set (default: all)")
    return p


def _usage_errors() -> tuple[type[BaseException], ...]:
    from replearn.config import ConfigError
    from replearn.data.sources import DataError
    from replearn.engine.checkpoint import CheckpointError
    from replearn.registry import UnknownNameError

    return (UnknownNameError, ConfigError, DataError, CheckpointError)


def _run_help(argv: list[str]) -> int | None:
    """``replearn run NAME --help``: the generic help, then ``replearn info NAME``."""
    if len(argv) < 3 or argv[0] != "run" or not {"-h", "--help"} & set(argv):
        return None
    name = next((a for a in argv[1:] if not a.startswith("-")), None)
    if name is None:
        return None
    from replearn.registry import UnknownNameError

    print(_build_parser(run_parser=True).format_help())
    from replearn import describe

    try:
        print(describe.describe(name), end="")
    except UnknownNameError as err:
        print(f"replearn: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    shown = _run_help(argv)
    if shown is not None:
        return shown
    args = _build_parser().parse_args(argv)
    from replearn.engine.callbacks import NonFiniteLossError

    try:
        return _dispatch(args)
    except _usage_errors() as err:
        print(f"replearn: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except NonFiniteLossError as err:
        print(f"replearn: training aborted: {err}", file=sys.stderr)
        return EXIT_NONFINITE
    except KeyboardInterrupt:
        print("replearn: interrupted", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from replearn import commands

    if args.command == "list":
        return commands.cmd_list(args.topic, markdown=args.markdown)
    if args.command == "info":
        return commands.cmd_info(args.name)
    if args.command == "run":
        return commands.cmd_run(args)
    if args.command == "claims":
        return commands.cmd_claims(
            args.topic, quick=args.quick, out=args.out, seed=args.seed, strict=args.strict
        )
    if args.command == "report":
        return commands.cmd_report(args.run_dir)
    if args.command == "arch":
        return commands.cmd_arch(args.model, args.input_shape, args.preset, args.overrides)
    return commands.cmd_data(args.data_command, getattr(args, "name", None))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
