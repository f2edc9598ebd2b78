"""`learning-loop`: the operator's command (SPEC §8), mirroring the runbooks.

State-changing commands run as Dagster runs on the configured instance, so
they show in the web UI. Read-only views query the warehouse. Bad input gives
one line on stderr, exit status 2, and changes nothing.

One module per runbook area registers its commands; `common` holds what they
share. The settings are read once here and handed to every command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from learning_loop.cli import active, bundles, canaries, loop, models, operations, planning, recipes, simulate
from learning_loop.cli.common import EXIT_BAD_INPUT, EXIT_RUN_FAILED, BadInput
from learning_loop.orchestration.runner import RunFailed
from learning_loop.settings import Settings
from learning_loop.views.common import UnknownProject
from learning_loop.warehouse.backend import WarehouseError

__all__ = ["BadInput", "build_parser", "main"]

#: command modules in the order of the runbooks (`--help` lists them so)
AREAS: tuple[ModuleType, ...] = (loop, planning, recipes, models, active, bundles, canaries, simulate, operations)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="learning-loop", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str, json_flag: bool = True):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        return p

    for area in AREAS:
        area.register(add)
    return parser


def _quiet_dagster_warnings() -> None:
    """Beta/preview notices about APIs we chose deliberately are noise to an operator."""
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def _error(exc: BaseException) -> str:
    return f"learning-loop: error: {exc}".splitlines()[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_dagster_warnings()
    try:
        args.settings = Settings.from_env()
        return args.func(args)
    except (BadInput, UnknownProject, WarehouseError, ValueError) as exc:
        print(_error(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    except RunFailed as exc:
        print(_error(exc), file=sys.stderr)
        return EXIT_RUN_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
