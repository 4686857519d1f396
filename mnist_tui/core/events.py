"""Typed events a training run yields. Consumers (CLI, TUI, tests) only read these."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the event's kind under ``event``."""
        return {"event": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    kind: ClassVar[str] = "started"
    run_name: str
    run_dir: str
    config: dict[str, Any]
    param_count: int
    device: str
    start_epoch: int  # epochs already done (non-zero when resuming)
    epochs: int
    steps_per_epoch: int
    train_size: int
    val_size: int
    test_size: int
    start_step: int = 0  # steps already done in the epoch being resumed
    lr_factor: float = 1.0  # the steering a resumed run had when it stopped (it goes on with it)


@dataclass(frozen=True)
class StepMetrics(Event):
    """Training metrics averaged over the batches since the previous point.

    Points fall on fixed steps (every ceil(steps_per_epoch / 100) steps and the epoch's
    last), so the same run gives the same curve whatever the machine's speed.
    """

    kind: ClassVar[str] = "step"
    epoch: int  # 1-based
    step: int  # 1-based, within the epoch
    steps_per_epoch: int
    global_step: int
    loss: float
    accuracy: float
    lr: float
    samples_per_s: float
    elapsed_s: float


@dataclass(frozen=True)
class EpochEnd(Event):
    kind: ClassVar[str] = "epoch"
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    best_val_accuracy: float | None
    lr: float
    seconds: float


@dataclass(frozen=True)
class CheckpointSaved(Event):
    kind: ClassVar[str] = "checkpoint"
    path: str
    epoch: int  # the epoch it was saved at the end of, or (reason "stopped") in, as Stopped says it
    reason: str  # "last", "best" or "stopped"
    step: int = 0  # stopped: the steps of that epoch it holds


@dataclass(frozen=True)
class Paused(Event):
    kind: ClassVar[str] = "paused"
    epoch: int
    step: int


@dataclass(frozen=True)
class Resumed(Event):
    kind: ClassVar[str] = "resumed"
    epoch: int
    step: int


@dataclass(frozen=True)
class LrChanged(Event):
    """The learning rate was steered: the schedule's rate times ``factor`` from ``global_step`` on."""

    kind: ClassVar[str] = "lr_changed"
    epoch: int
    step: int
    global_step: int
    factor: float


@dataclass(frozen=True)
class Stopped(Event):
    """The run was asked to stop; ``checkpoint`` resumes it."""

    kind: ClassVar[str] = "stopped"
    epoch: int
    step: int
    checkpoint: str
    run_dir: str

    @property
    def place(self) -> str:
        """Where, in words: "after epoch 3" at an epoch's end ("in epoch 4 after step 0" followed a table of
        three epochs), else "in epoch 4 after step 120"."""
        return f"after epoch {self.epoch - 1}" if self.step == 0 and self.epoch > 1 else \
            f"in epoch {self.epoch} after step {self.step}"


@dataclass(frozen=True)
class Finished(Event):
    kind: ClassVar[str] = "finished"
    run_name: str
    run_dir: str
    epochs: int
    train_seconds: float
    test_loss: float
    test_accuracy: float
    per_class_accuracy: list[float]
    best_val_accuracy: float | None
    tta: bool = False  # test_accuracy averaged over shifted copies too (the config's tta)
    # a resumed tuning trial that finished and joined its study again (core.tune_rejoin), in one line
    study_note: str | None = None


@dataclass(frozen=True)
class Failed(Event):
    kind: ClassVar[str] = "failed"
    reason: str
    epoch: int
    run_dir: str
    checkpoint: str | None  # best checkpoint kept, if any


__all__ = [
    "CheckpointSaved", "EpochEnd", "Event", "Failed", "Finished", "LrChanged", "Paused", "Resumed",
    "RunStarted", "Stopped", "StepMetrics",
]
