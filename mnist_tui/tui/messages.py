"""Textual messages that carry core events and worker results to the UI thread.

Workers only ever ``post_message`` these (thread-safe); handlers on the app do the UI work.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from typing import Any

from textual.app import ScreenStackError
from textual.css.query import NoMatches
from textual.message import Message

from ..core.events import Event


class EngineEvents(Message):
    """Events from ``Trainer.run`` in arrival order (metrics points come batched, a few times a second)."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events


class RunEnded(Message):
    """The training child process of run ``serial`` is gone; the controller is idle again."""

    def __init__(self, serial: int) -> None:
        super().__init__()
        self.serial = serial


class DrawModelLoaded(Message):
    """Draw's model, loaded in a worker."""

    def __init__(self, model: Any, config: Any, path: Any) -> None:
        super().__init__()
        self.model, self.config, self.path = model, config, path


class DrawModelFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class DrawPredicted(Message):
    """The model input of drawing ``serial`` and the model's reading of it (None: no model yet), from a worker."""

    def __init__(self, serial: int, model_input: Any, probabilities: list[float] | None, seconds: float) -> None:
        super().__init__()
        self.serial, self.model_input, self.probabilities, self.seconds = serial, model_input, probabilities, seconds


class DataReady(Message):
    """MNIST (and torch) finished loading in a worker."""

    def __init__(self, data: Any) -> None:
        super().__init__()
        self.data = data


class DataFailed(Message):
    """``dataset`` could not be loaded; ``message`` is the core's explanation."""

    def __init__(self, message: str, dataset: str) -> None:
        super().__init__()
        self.message, self.dataset = message, dataset


class TrainingCrashed(Message):
    """The run could not start or its process died (outside the engine's own Failed event)."""

    def __init__(self, reason: str, data_unavailable: bool = False) -> None:
        super().__init__()
        self.reason = reason
        self.data_unavailable = data_unavailable


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
    """Test results to show (a core ``EvaluatedModel``: evaluation, images, source, class names, checkpoint)."""

    def __init__(self, evaluated: Any) -> None:
        super().__init__()
        self.evaluated = evaluated


class EvaluationFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class RunsListed(Message):
    """The checkpoints folder was read (``runs`` is a list of core RunInfo)."""

    def __init__(self, runs: list[Any]) -> None:
        super().__init__()
        self.runs = runs


def while_mounted(handler):
    """Drop a worker's late message that arrives while the app is shutting down (its views are gone); an async
    handler too (its NoMatches came when awaited, past the guard: a run ending as a test's app closed)."""

    @contextlib.contextmanager
    def dropped_when_closing(app):
        try:
            yield
        except (NoMatches, ScreenStackError):  # a query, or app.screen once the screens have gone
            if not (app._exit or app._closing or not app.is_running or not app.screen_stack):
                raise

    if inspect.iscoroutinefunction(handler):
        @functools.wraps(handler)
        async def awaited(self, *args, **kwargs):
            with dropped_when_closing(self):
                return await handler(self, *args, **kwargs)

        return awaited

    @functools.wraps(handler)
    def wrapper(self, *args, **kwargs):
        with dropped_when_closing(self):
            return handler(self, *args, **kwargs)

    return wrapper


__all__ = [
    "DataFailed", "DataReady", "DrawModelFailed", "DrawModelLoaded", "DrawPredicted", "EngineEvents",
    "EvaluationFailed", "EvaluationProgress", "EvaluationReady",
    "RunEnded", "RunsListed", "TrainingCrashed", "while_mounted",
]
