"""The Train view: hyperparameter form on the left, live charts on the right.

The pane owns its charts' feeding (points arrive in batches from the run controller)
and their redraw rate, and shows the run's state on its buttons.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from ...core.config import TrainConfig
from ...core.controller import ALLOWED, RunState
from ...core.events import EpochEnd, RunStarted, StepMetrics
from ..widgets.charts import AccuracyChart, LearningRateChart, LossChart, TrainingChart
from ..widgets.hparam_form import HParamForm

CHART_NAMES = ("Loss", "Accuracy", "LR")
TALL = 40  # rows from which all three charts are shown at once
CHART_REFRESH_S = 1.0  # charts redraw at most once a second: each redraw holds the GIL a few ms


class TrainPane(Vertical):
    """Form, Start/Pause/Stop buttons and the charts; the app feeds the charts."""

    def __init__(self, config: TrainConfig, preset: str | None) -> None:
        super().__init__(id="train-pane")
        self._config, self._preset = config, preset
        self.chart_index = 0
        self._charts: list[TrainingChart] = []
        self._last_redraw = 0.0

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-body"):
            with Vertical(id="form-column"):
                yield HParamForm(self._config, self._preset, id="form")
                with Horizontal(id="run-buttons"):
                    yield Button("Start", id="start-button", variant="success", compact=True)
                    yield Button("Pause", id="pause-button", compact=True, disabled=True)
                    yield Button("Stop", id="stop-button", variant="error", compact=True, disabled=True)
            with Vertical(id="charts"):
                yield Static(id="chart-tabs")
                yield LossChart(id="loss-chart")
                yield AccuracyChart(id="accuracy-chart")
                yield LearningRateChart(id="lr-chart")

    @property
    def charts(self) -> list[TrainingChart]:
        """Loss, accuracy and learning-rate charts (kept, not queried: this runs on every metrics event)."""
        if not self._charts:
            self._charts = list(self.query(TrainingChart))
        return self._charts

    def on_mount(self) -> None:
        self.apply_chart_layout()

    def on_resize(self) -> None:
        self.apply_chart_layout()

    def next_chart(self) -> None:
        self.chart_index = (self.chart_index + 1) % len(CHART_NAMES)
        self.apply_chart_layout()

    def apply_chart_layout(self) -> None:
        """One chart at a time in a short terminal (cycle with f8); all three when tall."""
        tall = self.app.size.height >= TALL
        for index, chart in enumerate(self.charts):
            visible = tall or index == self.chart_index
            if chart.display != visible:
                chart.display = visible
                chart.dirty = True
        header = Text(no_wrap=True, overflow="crop")
        if tall:
            header.append("Live charts", "bold")
        else:
            for index, name in enumerate(CHART_NAMES):
                header.append(f" {name} ", "bold reverse" if index == self.chart_index else "dim")
            header.append("  f8 next chart", "dim italic")
        self.query_one("#chart-tabs", Static).update(header)
        self.redraw()  # a chart that just became visible is drawn from the current run's data

    def redraw(self) -> None:
        """Replot the visible charts that have new points (nothing while another tab is shown)."""
        self._last_redraw = time.monotonic()
        if not self.is_mounted or not self.parent or not getattr(self.parent, "display", True):
            return
        for chart in self.visible_charts():
            if chart.dirty:
                chart.replot()

    def on_show(self) -> None:
        for chart in self.charts:
            chart.dirty = True
        self.redraw()

    # -- the run's data ------------------------------------------------------------------------

    def clear_charts(self, epochs: int | None, message: str) -> None:
        """A run is starting: the previous run's curves go at once."""
        for chart in self.charts:
            chart.reset(epochs, message)
        self.redraw()

    def run_started(self, event: RunStarted, points: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
        """Axes for the run; a resumed run's history (its step points and epochs) drawn first."""
        loss, acc, lr = self.charts
        for chart in self.charts:
            chart.reset(event.epochs)
        for point in points:
            loss.add_train(point["x"], point["loss"])
            acc.add_train(point["x"], point["accuracy"])
            lr.add_train(point["x"], point["lr"])
        for record in records:
            loss.add_val(record["epoch"], record.get("val_loss"))
            acc.add_val(record["epoch"], record.get("val_accuracy"))
        self.redraw()

    def add_points(self, points: list[StepMetrics]) -> None:
        loss, acc, lr = self.charts
        first = len(loss.train) == 0
        for event in points:
            x = (event.epoch - 1) + event.step / event.steps_per_epoch
            loss.add_train(x, event.loss)
            acc.add_train(x, event.accuracy)
            lr.add_train(x, event.lr)
        # redraw piggybacks on the points' arrival rather than a timer: every wake-up of the UI
        # takes a core from the training process (and at once for the first points, so the chart comes alive)
        if first or time.monotonic() - self._last_redraw >= CHART_REFRESH_S:
            self.redraw()

    def epoch_end(self, event: EpochEnd) -> None:
        loss, acc, _ = self.charts
        loss.add_val(event.epoch, event.val_loss)
        acc.add_val(event.epoch, event.val_accuracy)
        self.redraw()

    def show_run_state(self, state: RunState, form_valid: bool) -> None:
        """Buttons and the form follow the controller's table."""
        self.query_one("#start-button", Button).disabled = state not in ALLOWED["start"] or not form_valid
        pause = self.query_one("#pause-button", Button)
        pause.label = "Resume" if state == RunState.PAUSED else "Pause"
        pause.disabled = state not in ALLOWED["pause"] | ALLOWED["resume"]
        self.query_one("#stop-button", Button).disabled = state not in ALLOWED["stop"]
        form = self.query_one(HParamForm)
        form.set_class(state != RunState.IDLE, "-applies-next")
        form.border_subtitle = "" if state == RunState.IDLE else "changes apply to the next run"

    def visible_charts(self) -> list[TrainingChart]:
        return [chart for chart in self.charts if chart.display]
