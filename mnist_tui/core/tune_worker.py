"""A trial worker: one child process per tuning job that trains many trials in turn.

Starting a Python child, importing torch and reading the dataset cost ~2-3 s on a
2-core machine, about half an epoch of the ``fast`` CNN: paid once per trial, it ate
most of what pruning saves. A worker pays it once per job. Each trial is still an
ordinary ``Trainer`` run (its own run folder, checkpoints, metrics), trained in the
child's main thread as ``mnist-tui train`` does.

After each epoch but the last the child waits for the parent's verdict (go on, or
stop: the pruner's decision) before it trains on, so a pruned trial stops at the
epoch boundary instead of training into the next epoch while the parent asks the
storage. ``stop()`` (Ctrl+C) stops the current trial at the next batch, last.pt saved.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .events import EpochEnd, Event
from .process import TrainingProcessError, exit_at_once, stderr_lines

VERDICT_POLL_S = 0.1


class TrialWorker:
    """The parent's handle on one worker child: ``trial()`` runs a trial and yields its events."""

    def __init__(self, *, data_dir: str | Path | None, dataset: str, checkpoints_dir: str | Path):
        events_r, events_w = os.pipe()
        commands_r, commands_w = os.pipe()
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(events_w), str(commands_r)],
                pass_fds=(events_w, commands_r), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self._stderr, start_new_session=True,  # Ctrl+C reaches the parent only; it stops us
            )
        finally:
            os.close(events_w)
            os.close(commands_r)
        self._events = Connection(events_r, writable=False)
        self._commands = Connection(commands_w, readable=False)
        self._lock = threading.Lock()
        self._serial = 0
        self.broken = False  # the child died: the next trial needs a new worker
        self._send({"data_dir": str(data_dir) if data_dir else None, "dataset": dataset,
                    "checkpoints_dir": str(checkpoints_dir)})

    def _send(self, message: Any) -> None:
        with self._lock:
            try:
                self._commands.send(message)
            except OSError:  # the child has gone; events() says why
                pass

    def trial(self, config: TrainConfig, run_name: str | None) -> Iterator[Event]:
        """Train one trial and yield its events (RunStarted ... Finished/Stopped/Failed).

        After every EpochEnd but the last, call :meth:`verdict` before reading on.
        Raises TrainingProcessError if the trial could not run (the dataset, a dead child).
        """
        self._serial += 1
        self._send(("run", self._serial, config.to_dict(), run_name))
        clean = False
        try:
            yield from self._read_trial()
            clean = True
        except TrainingProcessError:
            clean = not self.broken  # the trial could not run, but the child is fine
            raise
        finally:
            if not clean:  # left half-read: its remaining events would be taken for the next trial's
                self.broken = True

    def _read_trial(self) -> Iterator[Event]:
        while True:
            try:
                kind, payload = self._events.recv()
            except (EOFError, OSError):
                self.broken = True
                code = self._process.wait(timeout=10)
                raise TrainingProcessError(f"the trial worker ended unexpectedly (exit code {code})"
                                           f"{self._stderr_tail()}") from None
            if kind == "event":
                yield payload
            elif kind == "error":
                raise TrainingProcessError(payload["message"], payload["data_unavailable"])
            else:  # "done"
                return

    def verdict(self, epoch: int, go_on: bool) -> None:
        """Let the current trial train past ``epoch`` (go_on) or stop it there (pruned)."""
        self._send(("verdict", self._serial, epoch, go_on))

    def stop(self) -> None:
        """Stop the current trial at its next batch (last.pt saved). Thread-safe."""
        self._send("stop")

    def _stderr_tail(self) -> str:
        lines = stderr_lines(self._stderr)
        return ": " + lines[-1] if lines else ""

    def close(self, timeout: float = 30.0) -> None:
        """Tell the child to exit (a trial still running stops and saves first) and wait for it."""
        if self._process.poll() is None:
            self._send("stop")
            self._send("exit")
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._events.close()
        with self._lock:
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

    inbox: queue.Queue = queue.Queue()
    current: dict[str, Any] = {"control": RunControl()}
    gone = threading.Event()
    stopping = threading.Event()  # a stop means the whole search stops: a trial started after it stops at once

    def stop_current(*_: Any) -> None:
        stopping.set()
        current["control"].stop()

    for name in ("SIGTERM", "SIGHUP", "SIGINT"):  # asked to end: the trial stops at the next batch and saves
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda signum, frame: (stop_current(), inbox.put("exit")))

    def listen() -> None:
        while True:
            try:
                message = commands.recv()
            except (EOFError, OSError):  # the parent went away: stop (saving last.pt) and exit
                gone.set()
                stop_current()
                inbox.put("exit")
                return
            if message == "stop":
                stop_current()
            else:
                inbox.put(message)

    threading.Thread(target=listen, name="commands", daemon=True).start()

    def send(message: tuple[str, Any]) -> None:
        if gone.is_set():
            return
        try:
            events.send(message)
        except OSError:
            gone.set()
            stop_current()

    def wait_verdict(serial: int, epoch: int, control: RunControl) -> bool:
        while not control.stop_requested:
            try:
                message = inbox.get(timeout=VERDICT_POLL_S)
            except queue.Empty:
                continue
            if message == "exit":
                inbox.put(message)  # handled once the trial has stopped
                return False
            if isinstance(message, tuple) and message[0] == "verdict" and message[1:3] == (serial, epoch):
                return bool(message[3])
        return False

    data = None
    while True:
        message = inbox.get()
        if message == "exit":
            break
        if not (isinstance(message, tuple) and message[0] == "run"):
            continue  # a stale verdict
        _, serial, config_dict, run_name = message
        control = current["control"] = RunControl()
        if stopping.is_set():
            control.stop()
        try:
            if data is None:  # once per worker: a study's trials share the dataset
                data = load_mnist(settings["data_dir"], download=False, dataset=settings["dataset"])
            trainer = Trainer(TrainConfig.from_dict(config_dict), data, checkpoints_dir=settings["checkpoints_dir"],
                              run_name=run_name)
            for event in trainer.run(control):
                send(("event", event))
                if isinstance(event, EpochEnd) and event.epoch < event.epochs:
                    if not wait_verdict(serial, event.epoch, control):
                        control.stop()  # ends at the top of the next epoch: last.pt saved, Stopped
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which marks the trial failed
            plain = isinstance(exc, (DataUnavailable, CheckpointError, ConfigError))  # the user's problem, its words
            message_text = str(exc) if plain else f"{type(exc).__name__}: {exc}"
            send(("error", {"message": message_text, "data_unavailable": isinstance(exc, DataUnavailable)}))
            continue
        send(("done", None))


__all__ = ["TrialWorker"]


if __name__ == "__main__":
    _child_main(Connection(int(sys.argv[1]), readable=False), Connection(int(sys.argv[2]), writable=False))
    exit_at_once()
