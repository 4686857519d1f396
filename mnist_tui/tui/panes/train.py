"""The Train view: hyperparameter form on the left, live charts on the right."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from ...core.config import TrainConfig
from ..widgets.charts import AccuracyChart, LearningRateChart, LossChart, TrainingChart
from ..widgets.hparam_form import HParamForm

CHART_NAMES = ("Loss", "Accuracy", "LR")
TALL = 40  # rows from which all three charts are shown at once


class TrainPane(Vertical):
    """Form, Start/Pause/Stop buttons and the charts; the app feeds the charts."""

    def __init__(self, config: TrainConfig, preset: str | None) -> None:
        super().__init__(id="train-pane")
        self._config, self._preset = config, preset
        self.chart_index = 0
        self._charts: list[TrainingChart] = []

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

    def visible_charts(self) -> list[TrainingChart]:
        return [chart for chart in self.charts if chart.display]
