"""Operating the platform: the demo and the Dagster web UI."""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

from learning_loop.cli.common import AddCommand, BadInput, settings_of
from learning_loop.orchestration.instance import ensure_dagster_home

#: how long the UI's processes get to stop after SIGTERM before they are killed
STOP_GRACE_S = 10.0


def cmd_demo(args: argparse.Namespace) -> int:
    from learning_loop.demo import run_demo

    if args.days < 1:
        raise BadInput(f"--days must be at least 1, got {args.days}")
    return run_demo(settings_of(args), fresh=args.fresh, simulation=not args.no_simulation, days=args.days)


def ui_command(workspace: Path, port: int) -> list[str]:
    """`dagster dev` run by this interpreter, so no activated virtual environment is needed."""
    return [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-p", str(port), "-h", "127.0.0.1"]


def cmd_ui(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("dagster_webserver") is None:
        raise BadInput("the web UI needs dagster-webserver: pip install dagster-webserver")
    if not 1 <= args.port <= 65535:
        raise BadInput(f"--port must be between 1 and 65535, got {args.port}")
    settings = settings_of(args)
    home = ensure_dagster_home(settings)
    workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
    argv = ui_command(workspace, args.port)
    env = {**os.environ, "DAGSTER_HOME": str(home), "LEARNING_LOOP_HOME": str(settings.home)}
    print(f"DAGSTER_HOME={home} {' '.join(argv)}", file=sys.stderr)
    print(f"web UI on http://127.0.0.1:{args.port} — Ctrl-C stops it", file=sys.stderr)
    # its own process group: on Ctrl-C or SIGTERM everything it started (webserver, daemon,
    # code server) is signalled together and nothing is left behind
    child = subprocess.Popen(argv, env=env, start_new_session=True)

    def stop(signum: int, _frame: object) -> None:
        _stop_group(child)
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        _stop_group(child)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_group(child: subprocess.Popen) -> None:
    """SIGTERM the child's whole process group, then SIGKILL whatever is left after the grace period."""
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        child.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def register(add: AddCommand) -> None:
    p = add(
        "demo", cmd_demo, "ingest the sample data, run the daily loop, then a 14-day closed-loop simulation",
        json_flag=False,
    )
    p.add_argument("--fresh", action="store_true", help="start from an empty runtime folder")
    p.add_argument("--no-simulation", action="store_true", help="skip the closed-loop simulation at the end")
    p.add_argument("--days", type=int, default=14, help="days of the closed-loop simulation (default 14)")
    p = add("ui", cmd_ui, "open the Dagster web UI on the configured instance", json_flag=False)
    p.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (default 3000)")
