"""The Train view: hyperparameter form on the left, live charts on the right.

The pane owns its charts' feeding (points arrive in batches from the run controller)
and their redraw rate, and shows the run's state on its buttons.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
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
    """Form, Start/Pause/Stop buttons and the charts; the app feeds the charts.

    Its keys work from anywhere in the view, the form's fields included: ctrl+y and ctrl+t are
    not bound by Input. The steering keys act during a run, while the form is disabled.
    """

    BINDINGS = [
        # named in the chart header (the footer keeps its room for the run's keys)
        Binding("ctrl+y", "toggle_log", "Log loss", show=False),
        Binding("ctrl+t", "cycle_smoothing", "Smooth loss", show=False),
        Binding("minus", "steer(0.5)", "lr/2", key_display="-", tooltip="Halve the learning rate"),
        Binding("plus,equals_sign", "steer(2.0)", "lr×2", key_display="+",
                tooltip="Double the learning rate"),
    ]

    def __init__(self, config: TrainConfig, preset: str | None) -> None:
        super().__init__(id="train-pane")
        self._config, self._preset = config, preset
        self.chart_index = 0
        self._charts: list[TrainingChart] = []
        self._last_redraw = 0.0
        self._form_locked = False
        self.shown_state: RunState | None = None  # the run state the buttons and form show now
        self._last_field: Widget | None = None  # the form field to give the keys back to (after a run, or f1)

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-body"):
            with Vertical(id="form-column"):
                yield HParamForm(self._config, self._preset, id="form")
                yield Static("Form locked until the run ends.", id="form-locked")  # "trains" while paused
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
        # the form scrolls to whichever field has focus: as a tab stop of its own it only hid the focus
        self.query_one(HParamForm).can_focus = False
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
            header.append("  ^y log loss  ^t smoothing", "dim italic")
        else:
            for index, name in enumerate(CHART_NAMES):
                header.append(f" {name} ", "bold reverse" if index == self.chart_index else "dim")
            header.append("  f8  ^y log  ^t smooth", "dim italic")
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
        self.call_after_refresh(self.keep_focus_here)

    # -- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "steer":  # only while a run starts or trains (the footer shows them then)
            return self.app.controller.allowed("steer")
        return True

    def action_toggle_log(self) -> None:
        """Loss in log10 or linear (the chart's title says which)."""
        self.query_one(LossChart).toggle_log_scale()
        self._show_chart("Loss")

    def action_cycle_smoothing(self) -> None:
        """Train loss smoothing off, light, heavy (the chart's title says which)."""
        self.query_one(LossChart).cycle_smoothing()
        self._show_chart("Loss")

    def action_steer(self, factor: float) -> None:
        self.app.action_steer(factor)

    def _show_chart(self, name: str) -> None:
        """Bring a chart on screen (short terminals show one at a time) and redraw it."""
        self.chart_index = CHART_NAMES.index(name)
        self.apply_chart_layout()

    # -- the run's data ------------------------------------------------------------------------

    def clear_charts(self, epochs: int | None, message: str | None) -> None:
        """A run is starting: the previous run's curves go at once (``message`` None: no run, the idle charts)."""
        for chart in self.charts:
            chart.reset(epochs, message)
        self.redraw()

    def restore_charts(self) -> None:
        """The curves clear_charts took away, back: the run it was for never began."""
        for chart in self.charts:
            chart.undo_reset()
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
        for event in points:
            x = (event.epoch - 1) + event.step / event.steps_per_epoch
            loss.add_train(x, event.loss)
            acc.add_train(x, event.accuracy)
            lr.add_train(x, event.lr)
        # redraw piggybacks on the points' arrival rather than a timer: every wake-up of the UI
        # takes a core from the training process (the first points too: the run's start drew the chart)
        if time.monotonic() - self._last_redraw >= CHART_REFRESH_S:
            self.redraw()

    def epoch_end(self, event: EpochEnd) -> None:
        loss, acc, _ = self.charts
        loss.add_val(event.epoch, event.val_loss)
        acc.add_val(event.epoch, event.val_accuracy)
        self.redraw()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Start, Pause/Resume and Stop do what f5, f6 and f7 do."""
        app = self.app
        actions = {"start-button": "start", "stop-button": "stop",
                   "pause-button": "resume" if app.controller.state == RunState.PAUSED else "pause"}
        if event.button.id in actions:
            event.stop()
            getattr(app, f"action_{actions[event.button.id]}")()

    def show_run_state(self, state: RunState, form_valid: bool) -> None:
        """Buttons and the form follow the controller's table."""
        self.shown_state = state
        self.query_one("#start-button", Button).disabled = state not in ALLOWED["start"] or not form_valid
        pause = self.query_one("#pause-button", Button)
        pause.label = "Resume" if state == RunState.PAUSED else "Pause"
        pause.disabled = state not in ALLOWED["pause"] | ALLOWED["resume"]
        self.query_one("#stop-button", Button).disabled = state not in ALLOWED["stop"]
        self._lock_form(state not in ALLOWED["edit_form"])

    def _lock_form(self, locked: bool) -> None:
        """A run uses the config it started with: the form is disabled while it runs, its keys go to the buttons."""
        if locked == self._form_locked:
            return
        self._form_locked = locked
        form = self.query_one(HParamForm)
        form.disabled = locked  # blurs a focused field
        self.query_one("#form-locked").display = locked
        self.query_one("#run-buttons").set_class(locked, "-locked")
        if not locked and isinstance(self.app.focused, Button) and self in self.app.focused.ancestors:
            self.app.set_focus(None)  # the keys go back to the field that had them before the run
        self.keep_focus_here()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id == "preset" or (event.widget.id or "").startswith("field-"):  # (not a picker's list)
            self._last_field = event.widget

    def keep_focus_here(self) -> None:
        """Give the keys to something visible in this view when what had them went away (disabled or hidden):
        the form field that had them last (f2, f1 gave them to the preset picker, scrolled out of view, where enter
        opened it: walk40 F1)."""
        if not self.is_mounted or not self.parent or not getattr(self.parent, "display", True):
            return
        focused = self.app.focused
        if focused is not None and focused.focusable and self in focused.ancestors:
            return
        if focused is not None and focused.focusable and focused.is_on_screen and not self._form_locked:
            return  # the tab bar, say: left alone until a run starts (then the run's keys need the view)
        if self._form_locked:
            target = next((b for b in self.query("#run-buttons Button") if not b.disabled), None)
        else:
            remembered = self._last_field
            target = remembered if remembered is not None and remembered.focusable else \
                self.query_one(HParamForm).query("Select, Input").first()
        if target is not None:
            target.focus(scroll_visible=True)

    def visible_charts(self) -> list[TrainingChart]:
        return [chart for chart in self.charts if chart.display]
