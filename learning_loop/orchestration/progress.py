"""Progress of a run launched by the CLI, read from the instance's event log while it runs.

The run's own log lines (a partition loop logs `outcomes 2024-01-08 (3/70): …`) and
its step starts and ends are shown on stderr: as a live bar when stderr is a
terminal (rich), as plain lines when it is piped, and not at all with `quiet`.
Everything stays in the run's event log in the web UI either way.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import dagster as dg

POLL_S = 0.5


@contextmanager
def watch_run(
    instance: dg.DagsterInstance, run_id: str, label: str, total_steps: int, stream: TextIO | None = None
) -> Iterator[None]:
    """Report the progress of `run_id` on `stream` (stderr) while the body executes it."""
    stream = stream or sys.stderr
    done = threading.Event()
    thread = threading.Thread(target=_follow, args=(instance, run_id, label, total_steps, stream, done), daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def _follow(instance, run_id, label, total_steps, stream, done) -> None:
    cursor = None
    finished = 0
    bar = _Bar(label, total_steps, stream)
    try:
        while True:
            stop = done.wait(POLL_S)
            try:  # only the events since the last look
                page = instance.get_records_for_run(run_id, cursor=cursor)
                cursor, entries = page.cursor, [record.event_log_entry for record in page.records]
            except Exception:  # the run's storage is not there yet, or the instance is closing
                entries = []
            for entry in entries:
                event = entry.dagster_event
                if event is None:
                    if entry.user_message:
                        bar.note(entry.user_message)
                elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                    finished += 1
                    bar.step(finished, event.step_key or "")
            if stop:
                break
    finally:
        bar.close()


class _Bar:
    """A rich progress bar on a terminal; plain lines otherwise."""

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.progress = None
        if stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                TimeElapsedColumn(), console=Console(file=stream), transient=True,
            )
            self.task = self.progress.add_task(label, total=self.total)
            self.progress.start()
        else:
            print(f"{label} …", file=stream, flush=True)

    def note(self, message: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=message[:80])
        else:
            print(f"  {message}", file=self.stream, flush=True)

    def step(self, finished: int, step_key: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(finished, self.total))
        else:
            print(f"  [{min(finished, self.total)}/{self.total}] {step_key} done", file=self.stream, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
