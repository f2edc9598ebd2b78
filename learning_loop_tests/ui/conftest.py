"""Starting and stopping `learning-loop ui` the way an operator does, and a browser on it.

`learning-loop ui` is started from the virtual environment's console script by its
absolute path with the environment's `bin/` off PATH (no activated venv), in a
runtime folder under tmp. The browser tests drive Debian's `chromium`
(`apt-get install -y chromium`; `.ci/run` installs it) through Playwright; they
skip, saying so, where it is missing. Playwright never downloads a browser here.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
LEARNING_LOOP = VENV_BIN / "learning-loop"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: screenshots of the browser tests, kept by CI as artifacts (git-ignored)
SCREENSHOTS = REPO / "data" / "runtime" / "ui-screenshots"
#: how long the webserver may take to answer after start (the code location loads first)
START_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:`port` (as `learning-loop ui` itself checks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def operator_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an operator who did not activate the virtual environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"VIRTUAL_ENV", "DAGSTER_HOME", "LEARNING_LOOP_WAREHOUSE_URL", "PYTHONHOME"}}
    path = [p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p and Path(p).resolve() != VENV_BIN.resolve()]
    env["PATH"] = os.pathsep.join(path or ["/usr/bin", "/bin"])
    env["LEARNING_LOOP_HOME"] = str(home)
    env.update(extra)
    return env


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class UI:
    """A running `learning-loop ui`."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until_serving(self, timeout: float = START_TIMEOUT_S) -> float:
        """Seconds until `/server_info` answers 200; fails with the log's tail if it never does."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                pytest.fail(f"learning-loop ui exited with {self.process.returncode} before serving:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        pytest.fail(f"learning-loop ui did not serve {self.url} within {timeout:.0f}s:\n{self.log_tail()}")

    def graphql(self, query: str) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql", data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def tree(self) -> list:
        """`learning-loop ui` and every process it started (psutil processes)."""
        import psutil

        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill_everything(self, processes: list) -> None:
        """Cleanup after a failed test: SIGKILL whatever is still running."""
        import psutil

        for proc in [*processes, *self.tree()]:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


def start_ui(home: Path, port: int, *, ignore_sigint: bool = False, **env: str) -> UI:
    """`$VENV/bin/learning-loop ui --port PORT` by absolute path, without an activated venv.

    `ignore_sigint`: start it the way `learning-loop ui &` in a shell script does (SIGINT ignored)."""
    if not LEARNING_LOOP.exists():
        pytest.skip(f"no console script at {LEARNING_LOOP} (pip install -e . into this environment)")
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"ui-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(LEARNING_LOOP), "ui", "--port", str(port)], env=operator_env(home, **env), cwd=home,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_ignore_sigint if ignore_sigint else None,
        )
    return UI(process, port, log)


def gone(proc) -> bool:
    """The process has ended (a zombie waiting for its reaper counts as ended)."""
    import psutil

    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


#: SIGTERM or Ctrl-C to everything stopped
STOP_WITHIN_S = 15.0


def assert_stops_everything(ui: UI, sig: int) -> float:
    """Send `sig` to `learning-loop ui`; it must exit within STOP_WITHIN_S with every process it
    started ended, its port free, and `dagster dev` having stopped its services itself (not
    killed after the grace period). Returns the seconds it took."""
    pytest.importorskip("psutil", reason="the stop tests need psutil (pip install -e '.[dev]')")
    processes = ui.tree()
    commands = [" ".join(p.cmdline()) for p in processes[1:] if not gone(p)]
    assert any("dagster_webserver" in c for c in commands), commands  # the tree is the real one
    name = signal.Signals(sig).name
    started = time.monotonic()
    ui.process.send_signal(sig)
    try:
        code = ui.process.wait(timeout=STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        ui.kill_everything(processes)
        pytest.fail(f"learning-loop ui still running {STOP_WITHIN_S:.0f}s after {name}:\n{ui.log_tail()}")
    took = time.monotonic() - started
    deadline = time.monotonic() + 5  # the last children may be a moment behind their parent
    while time.monotonic() < deadline and not all(gone(p) for p in processes):
        time.sleep(0.1)
    survivors = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in processes if not gone(p)]
    ui.kill_everything([p for p in processes if not gone(p)])
    assert not survivors, f"left running after {name}: {survivors}"
    assert code == 0, ui.log_tail()
    assert port_is_free(ui.port), f"port {ui.port} still taken after {name}"
    assert "Dagster services shut down" in ui.log.read_text(errors="replace"), ui.log_tail()
    return took


# ---------------------------------------------------------------------------------------------- browser


@dataclass
class DemoUI:
    ui: UI
    home: Path
    partitions: list[str]


def _build_demo_home(home: Path) -> list[str]:
    """The sample data ingested and the last 5 days of it materialised in one run; returns those days."""
    from datetime import timedelta

    from learning_loop.demo import copy_sample_to_landing
    from learning_loop.orchestration.runner import run_job
    from learning_loop.settings import Settings
    from learning_loop.views.recipes import data_date_range
    from learning_loop.warehouse.backend import open_warehouse

    settings = Settings.for_home(home)
    copy_sample_to_landing(settings)
    run_job("ingest_landing", settings=settings)
    span = data_date_range(open_warehouse(settings.warehouse_url))
    assert span is not None, "the sample data loaded nothing"
    last = span[1]
    days = [(last - timedelta(days=n)).isoformat() for n in range(4, -1, -1)]
    run_job("update_stats", settings=settings, partition_range=(days[0], days[-1]))
    _recent_project(settings, run_job)
    return days


def _recent_project(settings, run_job) -> None:
    """A small project with videos of the last days, its last 5 daily partitions materialised in one
    run: the Plots tab's Partitions mode shows the latest 120 partitions counted back from today."""
    import pandas as pd
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    today = now.replace(hour=0)
    videos, snaps = [], []
    for d in range(7, 0, -1):
        for i in range(4):
            pub = today - timedelta(days=d) + timedelta(hours=2 + 5 * i)
            vid = f"r{d}-{i}"
            videos.append({"project_id": "recent-shorts", "video_id": vid, "published_at": pub.isoformat() + "Z",
                           "topic": f"recent topic {vid}", "preset": "NEON_NOIR", "hook_type": "question",
                           "scene_count": 5 + i, "ending_type": "loop", "narration_wpm": 140, "caption_density": 0.4})
            for hours, views in ((1, 10 * (i + 1)), (7, 90 * (i + d)), (30, 400 + 50 * i)):
                if pub + timedelta(hours=hours) < now:
                    snaps.append({"project_id": "recent-shorts", "video_id": vid,
                                  "observed_at": (pub + timedelta(hours=hours)).isoformat() + "Z", "views": views,
                                  "likes": views // 10, "comments": views // 50, "avg_view_duration_s": 5 + i + d})
    pd.DataFrame(videos).to_csv(settings.landing_dir("videos") / "recent_videos.csv", index=False)
    pd.DataFrame(snaps).to_csv(settings.landing_dir("metrics") / "recent_metrics.csv", index=False)
    run_job("ingest_landing", settings=settings)
    first, last = (today - timedelta(days=5)).date(), (today - timedelta(days=1)).date()
    run_job("update_stats", settings=settings, partition_range=(first.isoformat(), last.isoformat()))


@pytest.fixture(scope="session")
def demo_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoUI]:
    """One webserver for every browser test: `learning-loop ui` on a small demo home (the sample
    data ingested, 5 of its daily partitions materialised, and a small project of the last days with
    its last 5 partitions materialised), partitions from the sample data's first day to yesterday."""

    from learning_loop.orchestration.instance import ensure_dagster_home
    from learning_loop.settings import Settings

    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    home = tmp_path_factory.mktemp("ui") / "runtime"
    ensure_dagster_home(Settings.for_home(home))
    # the UI starts (and loads the code location) while the data is being built
    ui = start_ui(home, free_port(), LEARNING_LOOP_START_DATE="2024-01-01")
    try:
        days = _build_demo_home(home)
        ui.wait_until_serving()
        ui.graphql("mutation { setNuxSeen }")  # no "join the community" dialog over the pages
        yield DemoUI(ui, home, days)
    finally:
        processes = ui.tree()
        ui.process.send_signal(signal.SIGTERM)
        try:
            ui.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        ui.kill_everything([p for p in processes if not gone(p)])


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright: Debian's chromium, never a downloaded browser."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict, demo_ui: DemoUI) -> dict:
    """pytest-playwright: every page on the demo's webserver, a window tall enough for the lists."""
    return {**browser_context_args, "base_url": demo_ui.ui.url, "viewport": {"width": 1600, "height": 1400}}


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
