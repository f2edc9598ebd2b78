"""Operating the platform: the demo and the Dagster web UI."""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from learning_loop.cli.common import AddCommand, BadInput, settings_of
from learning_loop.orchestration.instance import ensure_dagster_home

#: how long `dagster dev` gets to shut its services down after SIGINT before its process group is stopped
STOP_GRACE_S = 10.0
#: how long what is left of its process group gets after SIGTERM before SIGKILL
LEFTOVER_GRACE_S = 2.0
#: the signals that stop `learning-loop ui` (Ctrl-C, `kill`)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


TITLE = "getting started"

def cmd_demo(args: argparse.Namespace) -> int:
    from learning_loop.demo import run_demo

    if args.days < 1:
        raise BadInput(f"--days must be at least 1, got {args.days}")
    return run_demo(settings_of(args), fresh=args.fresh, simulation=not args.no_simulation, days=args.days)


def ui_command(workspace: Path, port: int) -> list[str]:
    """`dagster dev` run by this interpreter, so no activated virtual environment is needed."""
    return [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-p", str(port), "-h", "127.0.0.1"]


def _port_is_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:`port` (closed connections waiting out TIME_WAIT do not count,
    as for the webserver itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cmd_ui(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("dagster_webserver") is None:
        raise BadInput("the web UI needs dagster-webserver: pip install dagster-webserver")
    if not 1 <= args.port <= 65535:
        raise BadInput(f"--port must be between 1 and 65535, got {args.port}")
    if not _port_is_free(args.port):
        raise BadInput(f"port {args.port} on 127.0.0.1 is in use: pick another with --port")
    settings = settings_of(args)
    home = ensure_dagster_home(settings)
    workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
    argv = ui_command(workspace, args.port)
    env = {**os.environ, "DAGSTER_HOME": str(home), "LEARNING_LOOP_HOME": str(settings.home)}
    print(f"DAGSTER_HOME={home} {' '.join(argv)}", file=sys.stderr)
    print(f"web UI on http://127.0.0.1:{args.port} — Ctrl-C stops it", file=sys.stderr)
    child: subprocess.Popen | None = None
    stop_requested: list[float] = []  # when the first SIGINT/SIGTERM came

    def stop(signum: int, _frame: object) -> None:
        # no waiting in here: the main thread waits for the child (a `wait` in a signal handler
        # cannot take the Popen's lock that the interrupted `wait` holds)
        if child is None:
            raise SystemExit(0)
        if stop_requested:  # a second Ctrl-C: no more waiting
            _signal_group(child.pid, signal.SIGKILL)
            return
        stop_requested.append(time.monotonic())
        # `dagster dev` alone: its own shutdown stops the webserver, the daemon and the code
        # servers in order (signalling them all at once makes it slower)
        _signal_child(child, signal.SIGINT)

    # The handlers are installed before the child starts, so it starts with the default ones: an
    # ignored SIGINT (`learning-loop ui &` in a script) would be inherited, and `dagster dev` also
    # ignores SIGTERM then, so nothing but SIGKILL would stop it.
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        # its own process group: on Ctrl-C or SIGTERM everything it started (webserver, daemon,
        # code servers, runs) is stopped together and nothing is left behind
        child = subprocess.Popen(argv, env=env, start_new_session=True)
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop_requested and time.monotonic() - stop_requested[0] > STOP_GRACE_S:
                    break
        return 0 if stop_requested else code
    finally:
        if child is not None:
            _stop_group(child)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal_child(child: subprocess.Popen, sig: int) -> None:
    try:
        child.send_signal(sig)
    except ProcessLookupError:
        pass


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the process group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _group_alive(pgid: int) -> bool:
    """Some process of the group is still running. Zombies (ended, waiting for their reaper) do
    not count; without /proc, any member counts."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return _signal_group(pgid, 0)
    for stat in proc.glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if state not in ("Z", "X") and int(pgrp) == pgid:
            return True
    return False


def _stop_group(child: subprocess.Popen) -> None:
    """Whatever is left of the child's process group (all of it, if `dagster dev` did not stop
    within the grace period) gets SIGTERM, then SIGKILL after LEFTOVER_GRACE_S."""
    if not _signal_group(child.pid, signal.SIGTERM):
        child.poll()
        return
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while time.monotonic() < deadline and _group_alive(child.pid):
        child.poll()  # reap the child itself as soon as it ends
        time.sleep(0.1)
    _signal_group(child.pid, signal.SIGKILL)
    try:
        child.wait(timeout=LEFTOVER_GRACE_S)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
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
