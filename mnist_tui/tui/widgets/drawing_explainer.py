"""Draw's "why" panel: attribution maps of the model input, worked out off the UI thread.

The panel is told each new drawing (:meth:`DrawingExplainer.set_drawing`); while it is
active it explains the newest one in a thread worker (``core.explain``), at most one
run at a time and one every :data:`EXPLAIN_INTERVAL` seconds, so a fast drag costs a
few runs a second, never one per mouse move.
"""

from __future__ import annotations

import time
from typing import Any

from textual import work
from textual.message import Message

from .insight_panel import DrawingExplainView, InsightPanel

EXPLAIN_INTERVAL = 0.3  # seconds at least between two runs while the drawing changes
BLANK = ("Draw a digit: the pixels that pushed the model towards its answer, and towards the digit "
         "you meant (0-9) or else the runner-up, show here.")


class DrawingExplainer(InsightPanel):
    """Shows a :class:`DrawingExplainView` of the newest drawing while :attr:`active`."""

    class Explained(Message):
        def __init__(self, content: DrawingExplainView | str) -> None:
            super().__init__()
            self.content = content

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model: Any = None  # set by the screen once loaded (torch lives in the workers only)
        self.names: tuple[str, ...] | None = None  # class names when they are not the digits
        self.active = False
        self.method = "occlusion"  # legible at this resolution; per-pixel IG maps of a CNN are speckled
        self.meant: int | None = None  # the digit the user says they drew, for the second map
        self.model_input: Any = None  # uint8 [28, 28] numpy array, or None for a blank drawing
        self.explanation: DrawingExplainView | None = None
        self.runs = 0  # attribution runs started (the rate bound is visible to tests)
        self._stale = False  # the drawing changed since the last run started
        self._busy = False
        self._wait_timer: Any = None
        self._not_before = 0.0  # time.monotonic() of the earliest next run

    def set_drawing(self, model_input: Any) -> None:
        """The model input of the newest drawing (None: the canvas is blank)."""
        self.model_input = model_input
        if model_input is None:
            self.meant = None  # a new drawing, maybe of another digit
        self.request()

    def set_active(self, active: bool) -> None:
        self.active = active
        if active:
            self.request()
        elif self._wait_timer is not None:
            self._wait_timer.stop()
            self._wait_timer = None

    def set_meant(self, digit: int | None) -> None:
        self.meant = digit
        self.request()

    def toggle_method(self) -> None:
        self.method = "occlusion" if self.method == "ig" else "ig"
        self.request()

    def request(self) -> None:
        """Explain the newest drawing once no run is in flight and EXPLAIN_INTERVAL has passed."""
        if not self.active:
            return
        if self.model is None:
            if not self.content:
                self.show("Loading the model…")
            return
        if self.model_input is None:
            self.explanation, self._stale = None, False
            self.show(BLANK)
            return
        self._stale = True
        if self._busy or self._wait_timer is not None:
            return  # the run in flight (or the timer) picks the newest drawing up
        wait = self._not_before - time.monotonic()
        if wait > 0:
            self._wait_timer = self.set_timer(wait, self._start)
        else:
            self._start()

    def _start(self) -> None:
        self._wait_timer = None
        if not (self.active and self._stale and self.model is not None and self.model_input is not None):
            return
        self._stale, self._busy = False, True
        self._not_before = time.monotonic() + EXPLAIN_INTERVAL
        self.runs += 1
        self._explain(self.model, self.model_input.copy(), self.meant, self.method)

    @work(thread=True, exit_on_error=False, group="draw-explain", name="explain drawing")
    def _explain(self, model: Any, model_input: Any, meant: int | None, method: str) -> None:
        try:
            from ...core.explain import explain_pixels  # torch stays in core

            found = explain_pixels(model, model_input, meant, method)
            content: DrawingExplainView | str = DrawingExplainView(
                found.prediction, meant, found.probabilities, found.method, found.classes, found.maps.tolist(),
                model_input.tolist(), self.names)
        except Exception as exc:  # noqa: BLE001 - shown in the panel, never a crash
            content = f"Could not explain this drawing: {str(exc).strip() or type(exc).__name__}"
        self.post_message(self.Explained(content))

    def on_drawing_explainer_explained(self, message: Explained) -> None:
        self._busy = False
        if self.active and self.model_input is not None:  # a run for a drawing since cleared is dropped
            self.explanation = message.content if isinstance(message.content, DrawingExplainView) else None
            self.show(message.content)
        if self._stale:
            self.request()
