"""Run a Trainer in a child process and stream its events back.

Why a process: torch kernels called from a non-main thread ran at ~65% of
main-thread speed on a 2-core CPU (OpenMP's spinning waits), so an app that trains
in a worker thread trains slower than the headless CLI. A child process trains in
its own main thread, exactly as ``mnist-tui train`` does; the caller (a thread worker
in the app) reads events and sends pause/resume/stop over pipes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from multiprocessing.connection import Connection
from typing import Any

from .config import TrainConfig
from .events import Event

COMMANDS = ("pause", "resume", "stop", "lr_factor")
# metrics points leave the child in bundles: each message wakes the app, taking a core from training
# (every 0.5 s: the progress line updates twice a second; at 0.2 s the app's share of a 2-core
# machine during `fast` was about twice as large)
SEND_INTERVAL_S = 0.5



def stderr_lines(file: Any) -> list[str]:
    """What a child wrote to its stderr (a temporary file), as lines; [] if it cannot be read."""
    try:
        file.seek(0)
        return file.read().decode(errors="replace").strip().splitlines()
    except (AttributeError, ValueError, OSError):
        return []


def cli_message(file: Any) -> str:
    """The message a ``mnist-tui`` child ended with, from its stderr file: from its last "mnist-tui: " line on
    (a message may span lines: the missing dataset's says where it looked), prefix dropped; else the last line
    (a traceback's). Only the last line was shown: "The download said: …", without what was missing."""
    lines = stderr_lines(file)
    starts = [i for i, line in enumerate(lines) if line.startswith("mnist-tui: ")]
    kept = lines[starts[-1]:] if starts else lines[-1:]
    return "\n".join(kept).removeprefix("mnist-tui: ")


class TrainingProcessError(RuntimeError):
    """The child could not train: ``data_unavailable`` tells a missing dataset from other failures."""

    def __init__(self, message: str, data_unavailable: bool = False):
        super().__init__(message)
        self.data_unavailable = data_unavailable


class TrainingProcess:
    """A Trainer in a child Python process; ``events()`` yields what its ``run()`` yields.

    A plain subprocess with two extra pipes rather than multiprocessing: inside a Textual
    app sys.stderr has no file descriptor, which multiprocessing's spawn needs. The child's
    own stdout is discarded and its stderr kept in a temporary file for crash reports.
    Commands given before the child is ready wait in the pipe and apply in order.
    """

    def __init__(self, config: TrainConfig | None, *, data_dir: str | Path | None, download: bool,
                 dataset: str, checkpoints_dir: str | Path, resume: str | None = None, extra_epochs: int = 0,
                 run_name: str | None = None):
        settings = {
            "config": config.to_dict() if config is not None else None, "data_dir": str(data_dir) if data_dir else None,
            "download": download, "dataset": dataset, "checkpoints_dir": str(checkpoints_dir), "resume": resume,
            "extra_epochs": extra_epochs, "run_name": run_name,
        }
        events_r, events_w = os.pipe()
        commands_r, commands_w = os.pipe()
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(events_w), str(commands_r)],
                pass_fds=(events_w, commands_r), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                start_new_session=True,  # a closed terminal's SIGHUP must not kill it before it saves
            )
        finally:
            os.close(events_w)  # so that the child's exit reads as EOF here
            os.close(commands_r)
        self._events = Connection(events_r, writable=False)
        self._commands = Connection(commands_w, readable=False)
        self._send_lock = threading.Lock()
        self._commands.send(settings)

    def send(self, command: str, value: float | None = None) -> None:
        """Pause, resume or stop the run, or ``send("lr_factor", 0.5)`` (ignored once the child has gone)."""
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r}")
        if command == "lr_factor":
            command = (command, float(value))  # type: ignore[assignment]
        with self._send_lock:
            try:
                self._commands.send(command)
            except OSError:  # BrokenPipeError, or closed
                pass

    def events(self) -> Iterator[Event]:
        """Yield the run's events until it ends; raise TrainingProcessError if it could not run."""
        for bundle in self.bundles():
            yield from bundle

    def bundles(self) -> Iterator[list[Event]]:
        """The run's events as the child sent them: points bundled (SEND_INTERVAL_S), anything else at once."""
        while True:
            try:
                kind, payload = self._events.recv()
            except EOFError:
                code = self._process.wait(timeout=10)
                raise TrainingProcessError(
                    f"the training process ended unexpectedly (exit code {code}){self._stderr_tail()}") from None
            if kind == "events":
                yield payload
            elif kind == "error":
                raise TrainingProcessError(payload["message"], payload["data_unavailable"])
            else:  # "done"
                self._process.wait(timeout=10)
                return

    def _stderr_tail(self) -> str:
        lines = stderr_lines(self._stderr)
        return ": " + lines[-1] if lines else ""

    def close(self, timeout: float = 30.0) -> None:
        """Stop the run if it is still going (it saves last.pt) and wait for the child to exit."""
        if self._process.poll() is None:
            self.send("stop")
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._events.close()
        with self._send_lock:
            self._commands.close()
        self._stderr.close()

    @property
    def pid(self) -> int:
        return self._process.pid


def _child_main(events: Connection, commands: Connection) -> None:
    settings = commands.recv()
    from .config import ConfigError
    from .data import DataUnavailable, load_mnist
    from .engine import RunControl, Trainer
    from .runs import CheckpointError
    from .runtime import DeviceUnavailable

    control = RunControl()
    parent_gone = threading.Event()
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):  # asked to end: stop at the next batch, saving last.pt
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda signum, frame: control.stop())

    def listen() -> None:
        while True:
            try:
                command = commands.recv()
            except (EOFError, OSError):  # the parent went away: stop, which saves last.pt
                parent_gone.set()
                control.stop()
                return
            if isinstance(command, tuple) and command[0] == "lr_factor":
                try:
                    control.set_lr_factor(command[1])
                except ValueError:
                    pass
            elif command in COMMANDS:
                getattr(control, command)()

    threading.Thread(target=listen, name="commands", daemon=True).start()

    def send(message: tuple[str, Any]) -> None:
        if parent_gone.is_set():
            return
        try:
            events.send(message)
        except OSError:  # BrokenPipeError: the parent is gone
            parent_gone.set()
            control.stop()  # keep going until the engine has saved its checkpoint

    try:
        data = load_mnist(settings["data_dir"], download=settings["download"], dataset=settings["dataset"])
        config = TrainConfig.from_dict(settings["config"]) if settings["config"] is not None else None
        trainer = Trainer(config, data, checkpoints_dir=settings["checkpoints_dir"], resume=settings["resume"],
                          extra_epochs=settings["extra_epochs"], run_name=settings["run_name"])
        from .events import Paused, Resumed, StepMetrics

        bundle: list[Event] = []
        sent_at = time.monotonic()
        for event in trainer.run(control):  # a point waits for the next bundle; anything else goes at once
            bundle.append(event)
            if isinstance(event, (Paused, Resumed)) and trainer.lock is not None:
                trainer.lock.mark_paused(isinstance(event, Paused))  # for `runs` and Compare, other processes
            if not isinstance(event, StepMetrics) or time.monotonic() - sent_at >= SEND_INTERVAL_S:
                send(("events", bundle))
                bundle, sent_at = [], time.monotonic()
        if bundle:
            send(("events", bundle))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which shows it
        # the user's own problem (a busy or damaged run, bad data, a bad config) in its own words, one line
        plain = isinstance(exc, (DataUnavailable, CheckpointError, ConfigError, DeviceUnavailable))
        message = str(exc) if plain else f"{type(exc).__name__}: {exc}"
        send(("error", {"message": message, "data_unavailable": isinstance(exc, DataUnavailable)}))
        return
    send(("done", None))


def exit_at_once() -> None:
    """A child's end once its work is written and closed (checkpoints fsynced, the run lock let go): the OS frees
    torch's objects at once, where Python's own exit freed them one by one, 0.7-0.9 s that the parent waited for
    (the app's run read as over that much later; a study's worker, closing, held the study's end)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


__all__ = ["TrainingProcess", "TrainingProcessError"]


if __name__ == "__main__":
    _child_main(Connection(int(sys.argv[1]), readable=False), Connection(int(sys.argv[2]), writable=False))
    exit_at_once()
