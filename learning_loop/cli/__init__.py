"""`learning-loop`: the operator's command, mirroring the runbooks (contract: docs/contract.md).

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
from typing import NoReturn
from types import ModuleType

from learning_loop.cli import active, bundles, canaries, evaluation, jobs, loop, models, operations, planning, recipes
from learning_loop.cli import simulate, workers
from learning_loop.cli.common import EXIT_BAD_INPUT, EXIT_RUN_FAILED, BadInput
from learning_loop.orchestration.runner import RunFailed
from learning_loop.settings import Settings
from learning_loop.views.common import UnknownProject
from learning_loop.warehouse.backend import WarehouseError

__all__ = ["BadInput", "build_parser", "main"]

#: command modules in the order of the runbooks (`--help` lists them so)
#: (an area with the TITLE of an earlier one is listed in that one's group)
AREAS: tuple[ModuleType, ...] = (
    loop, planning, evaluation, recipes, models, active, bundles, canaries, jobs, simulate, operations, workers
)


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line too (`learning-loop: error: …`, exit 2); `--help` shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"learning-loop: error: {self.prog.removeprefix('learning-loop ')}: {message}\n"
                  if self.prog != "learning-loop" else f"learning-loop: error: {message}\n")


EPILOG = """\
Runtime state lives under LEARNING_LOOP_HOME (default: data/runtime under the current folder): the
landing zone, the DuckDB warehouse and the Dagster instance. Projects are the project_id values of the
ingested videos: `learning-loop stats --project X` on an unknown one lists the known projects.
The contract (inputs, tables, formulas, CLI and JSON) is docs/contract.md; `COMMAND --help` for a command."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="learning-loop", description=__doc__.splitlines()[0], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str, json_flag: bool = True):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("-v", "--verbose", action="store_true", help="show Dagster's log lines of the run")
        return p

    groups: dict[str, list[str]] = {}
    for area in AREAS:
        names: list[str] = []

        def add_in_area(name: str, *rest, _names=names, **kwargs):
            _names.append(name)
            return add(name, *rest, **kwargs)

        area.register(add_in_area)
        if names:
            title = getattr(area, "TITLE", None) or (area.__doc__ or area.__name__).strip().splitlines()[0].rstrip(".")
            groups.setdefault(title, []).extend(names)
    listing = "\n".join(f"  {title}:\n    {', '.join(names)}" for title, names in groups.items())
    parser.epilog = "commands by runbook area:\n" + listing + "\n\n" + EPILOG
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
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (one line, exit 2) and --help (exit 0)
        return int(exc.code or 0)
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
