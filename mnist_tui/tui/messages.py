"""Textual messages that carry core events and worker results to the UI thread.

Workers only ever ``post_message`` these (thread-safe); handlers on the app do the UI work.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from ..core.config import CLASS_NAMES
from ..core.events import Event, StepMetrics


class EngineEvent(Message):
    """One event from ``Trainer.run`` (RunStarted, StepMetrics, EpochEnd, ...)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class DataReady(Message):
    """MNIST (and torch) finished loading in a worker."""

    def __init__(self, data: Any) -> None:
        super().__init__()
        self.data = data


class DataFailed(Message):
    """The data could not be loaded; ``message`` is the core's explanation."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class TrainingCrashed(Message):
    """The training worker raised before or outside the engine's own Failed event."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class EvaluationProgress(Message):
    """``done`` of ``total`` test digits evaluated so far."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        # only the latest progress matters when the UI is behind
        return isinstance(message, EvaluationProgress)


class EvaluationReady(Message):
    """A model was evaluated on the test set; ``class_names`` are its dataset's (digits for MNIST)."""

    def __init__(self, evaluation: Any, images: Any, source: str, class_names: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.evaluation = evaluation
        self.images = images
        self.source = source
        self.class_names = class_names or CLASS_NAMES["mnist"]


class EvaluationFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class RunsListed(Message):
    """The checkpoints folder was read (``runs`` is a list of core RunInfo)."""

    def __init__(self, runs: list[Any]) -> None:
        super().__init__()
        self.runs = runs


__all__ = [
    "DataFailed", "DataReady", "EngineEvent", "EvaluationFailed", "EvaluationProgress", "EvaluationReady",
    "RunsListed", "StepMetrics", "TrainingCrashed",
]
