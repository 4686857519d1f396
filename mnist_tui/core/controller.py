"""The run controller: one run at a time in a child process, its state, and which action is allowed when.

Textual-free, so its lifecycle is tested without an app. The app (and, later, the Tune
view running trials one after another) hands it callbacks that post messages; the
state changes only in :meth:`RunController.handle`, called on the UI thread in the
order the events arrive, so what the screen shows and the state never disagree.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from pathlib import Path

from .config import FIELD_SPECS, TrainConfig
from .events import Event, Failed, Finished, Paused, Resumed, RunStarted, Stopped


class RunState(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"


S = RunState
# the one table of which action is allowed in which state: keys, buttons, palette and guards read it
ALLOWED: dict[str, frozenset[RunState]] = {
    "start": frozenset({S.IDLE}),
    "pause": frozenset({S.STARTING, S.RUNNING}),
    "resume": frozenset({S.PAUSED}),
    "stop": frozenset({S.STARTING, S.RUNNING, S.PAUSED}),
    "steer": frozenset({S.STARTING, S.RUNNING, S.PAUSED}),  # while starting, the factor waits like a pause
    "edit_form": frozenset({S.IDLE}),
}
ACTIVE = frozenset({S.STARTING, S.RUNNING, S.PAUSED, S.STOPPING})


def _dataset_of(run_dir: str | None) -> str:
    """The dataset a run to resume trains on (the child reports the run's own problems)."""
    from .runs import read_config

    try:
        return read_config(run_dir).dataset
    except (OSError, ValueError, TypeError):
        return "mnist"


class RunController:
    """Start, pause, resume, steer and stop training runs, one after another.

    ``deliver(events)`` receives lists of engine events from the reader thread (post them as
    a message); ``crashed(reason, data_unavailable)`` a run that could not start or died;
    ``ended(serial)`` that the child process is gone. All three are called from the reader thread.
    """

    def __init__(self, deliver: Callable[[list[Event]], None], crashed: Callable[[str, bool], None],
                 ended: Callable[[int], None], *, checkpoints_dir: str | Path, data_dir: str | Path | None,
                 spawn: Callable[[Callable[[], None]], None] | None = None):
        """``spawn(fn)`` runs the reader loop off the UI thread (the app passes a Textual thread worker);
        by default a plain thread. ``ended`` gets the run's serial, to hand back to :meth:`handle_end`."""
        self._deliver, self._crashed, self._ended = deliver, crashed, ended
        self._spawn = spawn or self._spawn_thread
        self.serial = 0  # counts runs, so a late end of one run never ends the next
        self.checkpoints_dir = Path(checkpoints_dir)
        self.data_dir = data_dir
        self.state = RunState.IDLE
        self.run_dir: str | None = None
        self.config: TrainConfig | None = None  # the config of the run in progress (None until it starts)
        self.lr_factor = 1.0
        self._resuming = False  # a resumed run that has not started yet
        self._lock = threading.Lock()
        self._process = None
        self._wanted: list[tuple[str, float | None]] = []  # commands given before the child existed
        self._done = threading.Event()
        self._done.set()

    def allowed(self, action: str) -> bool:
        return self.state in ALLOWED[action]

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    # -- commands -------------------------------------------------------------------------

    def start(self, config: TrainConfig | None, *, resume: str | None = None, dataset: str | None = None,
              extra_epochs: int = 0, run_name: str | None = None) -> None:
        """Start a run from ``config``, or continue the run ``resume`` (its folder)."""
        if not self.allowed("start"):
            raise RuntimeError(f"cannot start a run while {self.state.value}")
        self.state, self.run_dir, self.config, self.lr_factor = RunState.STARTING, None, config, 1.0
        self._resuming = resume is not None
        with self._lock:
            self._process, self._wanted = None, []
        dataset = dataset or (config.dataset if config is not None else _dataset_of(resume))
        self.serial += 1
        self._done = threading.Event()
        serial = self.serial
        self._spawn(lambda: self._train(config, resume, dataset, extra_epochs, run_name, serial))

    @staticmethod
    def _spawn_thread(target: Callable[[], None]) -> None:
        threading.Thread(target=target, name="training", daemon=True).start()

    def pause(self) -> None:
        if self.allowed("pause"):
            self._send("pause")

    def resume(self) -> None:
        if self.allowed("resume"):
            self._send("resume")

    def stop(self) -> None:
        if self.allowed("stop"):
            self._send("stop")
            self.state = RunState.STOPPING

    def steer(self, factor: float) -> float:
        """Multiply the learning rate by ``factor`` on top of the schedule; returns the run's new factor."""
        if not self.allowed("steer"):
            raise RuntimeError("no run is training")
        self.lr_factor = self._clamp(self.lr_factor * factor)
        if not self._resuming:  # a resumed run's own factor is known once it has started: held till then
            self._send("lr_factor", self.lr_factor)
        return self.lr_factor

    def _clamp(self, factor: float) -> float:
        """``factor`` within 1e-4..1e4, and never taking the lr above the form's limit (x1e4 made 0.01 into 100)."""
        top = FIELD_SPECS["lr"].high / self.config.lr if self.config is not None else 1e4
        return min(max(factor, 1e-4), top, 1e4)

    def _send(self, command: str, value: float | None = None) -> None:
        with self._lock:
            if self._process is None:
                self._wanted.append((command, value))
            else:
                self._process.send(command, value)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the reader loop (the child) to end; True if it has."""
        return self._done.wait(timeout)

    # -- events (UI thread) ---------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Follow the run's state from its events; call in arrival order."""
        if isinstance(event, RunStarted):
            self.run_dir = event.run_dir
            self.config = TrainConfig.from_dict(event.config)
            if self._resuming:  # it goes on with the steering it stopped with, times any given since
                steered, self._resuming = self.lr_factor != 1.0, False
                self.lr_factor = self._clamp(event.lr_factor * self.lr_factor)
                if steered:
                    self._send("lr_factor", self.lr_factor)
            if self.state == RunState.STARTING:
                self.state = RunState.RUNNING
        elif isinstance(event, Paused) and self.state != RunState.STOPPING:
            self.state = RunState.PAUSED
        elif isinstance(event, Resumed) and self.state != RunState.STOPPING:
            self.state = RunState.RUNNING
        elif isinstance(event, (Finished, Stopped, Failed)):
            self.state = RunState.IDLE

    def handle_end(self, serial: int) -> bool:
        """Run ``serial``'s child process is gone (after its last event, or without one). False for an earlier
        run's child, gone only after the next run started: nothing changes."""
        if serial != self.serial:
            return False
        self.state = RunState.IDLE
        return True

    # -- the reader thread ---------------------------------------------------------------------

    def _train(self, config: TrainConfig | None, resume: str | None, dataset: str, extra_epochs: int,
               run_name: str | None, serial: int) -> None:
        from .process import TrainingProcess, TrainingProcessError
        from .run_lock import check_writable
        from .runs import CheckpointError

        process = None
        try:  # a folder that takes no files is refused in the CLI's words, before a child starts
            check_writable(self.checkpoints_dir, _run_folder(resume) if resume is not None else None)
            process = TrainingProcess(config, data_dir=self.data_dir, download=False, dataset=dataset,
                                      checkpoints_dir=self.checkpoints_dir, resume=resume,
                                      extra_epochs=extra_epochs, run_name=run_name)
            with self._lock:
                self._process = process
                for command, value in self._wanted:
                    process.send(command, value)
            for bundle in process.bundles():  # points arrive bundled, about five times a second
                self._deliver(bundle)
        except Exception as exc:  # noqa: BLE001 - never kill the app: report it
            unavailable = isinstance(exc, TrainingProcessError) and exc.data_unavailable
            plain = isinstance(exc, (TrainingProcessError, CheckpointError))  # already in the user's words
            reason = str(exc) if plain else f"{type(exc).__name__}: {exc}"
            self._crashed(reason or repr(exc), unavailable)
        finally:
            if process is not None:
                process.close()
            self._done.set()
            self._ended(serial)


def _run_folder(resume: str) -> Path:
    """The folder of the run ``resume`` names (the folder itself, or its checkpoint file)."""
    path = Path(resume)
    return path.parent if path.suffix == ".pt" else path




__all__ = ["ACTIVE", "ALLOWED", "RunController", "RunState"]
