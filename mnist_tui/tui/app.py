"""The mnist-tui terminal app: a thin layer over the core engine.

Nothing here imports torch at module level, so the first frame appears at once;
torch and MNIST load in a worker while the form is already usable. Training runs
in a child process (core.process); one thread worker forwards its events as
messages, and charts redraw when metrics arrive (about once a second), never per batch.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from ..core.config import CLASS_NAMES, DATASET_TITLES, PRESETS, TrainConfig
from ..core.events import (
    CheckpointSaved, EpochEnd, Failed, Finished, Paused, Resumed, RunStarted, StepMetrics, Stopped,
)
from .messages import (
    DataFailed, DataReady, EngineEvent, EvaluationFailed, EvaluationProgress, EvaluationReady, RunsListed,
    TrainingCrashed,
)
from .panes.misclassified import MisclassifiedPane
from .panes.results import ResultsPane
from .panes.runs import RunsPane
from .panes.train import TrainPane
from .settings import default_settings_path, load_form, save_form
from .widgets.charts import TrainingChart
from .widgets.confusion import ConfusionTable
from .widgets.dialogs import ConfirmScreen, MessageScreen
from .widgets.digit_grid import DigitGrid
from .widgets.hparam_form import HParamForm
from .widgets.progress import ProgressLine, format_rate

def while_mounted(handler):
    """Drop a worker's late message that arrives while the app is shutting down (its views are gone)."""

    @functools.wraps(handler)
    def wrapper(self, *args, **kwargs):
        try:
            return handler(self, *args, **kwargs)
        except NoMatches:
            if self._exit or self._closing or not self.is_running or not self.screen_stack:
                return None
            raise

    return wrapper


CHART_REFRESH_S = 1.0  # charts redraw at most once a second: each redraw holds the GIL a few ms
TERMINAL = ("finished", "stopped", "failed")
ACTIVE = ("starting", "running", "paused", "stopping")
TABS = ("train", "results", "misclassified", "runs")


class MnistApp(App):
    """Train, watch and inspect MNIST classifiers. See the README's "The app" section for keys."""

    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-wide")]
    TITLE = "mnist-tui"
    BINDINGS = [
        # the tab labels show f1-f4, so the footer keeps its room for the actions
        Binding("f1", "show_tab('train')", "Train", show=False),
        Binding("f2", "show_tab('results')", "Results", show=False),
        Binding("f3", "show_tab('misclassified')", "Wrong", show=False),
        Binding("f4", "show_tab('runs')", "Runs", show=False),
        Binding("f5", "start", "Start"),
        Binding("f6", "pause", "Pause"),
        Binding("f6", "resume", "Resume"),
        Binding("f7", "stop", "Stop"),
        Binding("f8", "next_chart", "Chart"),
        Binding("f9", "draw", "Draw"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, data_dir: str | Path | None = None, checkpoints_dir: str | Path = "checkpoints",
                 preset: str | None = None, *, settings_path: str | Path | None = None,
                 metrics_interval_s: float = 1.0, load_data_on_start: bool = True, download: bool = True) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.checkpoints_dir = Path(checkpoints_dir)
        self.settings_path = Path(settings_path) if settings_path else default_settings_path()
        self.metrics_interval_s = metrics_interval_s
        self.load_data_on_start = load_data_on_start
        self.download = download
        self.initial_preset, self.initial_config = self._initial_form(preset)

        self.data: Any = None
        self._data_lock = threading.Lock()
        self._control_lock = threading.Lock()
        self.control: Any = None  # the current run's TrainingProcess, made in the worker
        self._wanted = {"pause": False, "stop": False}  # commands given before the control existed
        self.run_state = "idle"
        self.form_errors: dict[str, str] = {}
        self.run_dir: str | None = None
        self.last_checkpoint: str | None = None
        self._steps_per_epoch = 0
        self._train_size = 0
        self._quit_when_stopped = False
        self.evaluation: Any = None
        self._last_redraw = 0.0
        self.events_seen: list[str] = []  # kinds of engine events, for tests and debugging
        self._event_arrived = asyncio.Event()

    def _initial_form(self, preset: str | None) -> tuple[str | None, TrainConfig]:
        """Last used values, unless a different preset was asked for."""
        saved_preset, saved = load_form(self.settings_path)
        if saved is not None and (preset is None or preset == saved_preset):
            return saved_preset, saved
        name = preset if preset in PRESETS else "seed-mlp"
        return name, PRESETS[name]

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs", initial="train"):
            with TabPane("f1 Train", id="train"):
                yield TrainPane(self.initial_config, self.initial_preset)
            with TabPane("f2 Results", id="results"):
                yield ResultsPane(id="results-pane")
            with TabPane("f3 Misclassified", id="misclassified"):
                yield MisclassifiedPane()
            with TabPane("f4 Runs", id="runs"):
                yield RunsPane()
        yield ProgressLine(id="progress")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.load_data_on_start:
            self.load_data_in_background()
        else:
            self._set_progress(state="idle", message="Ready.")
        self.list_runs_in_background()

    @property
    def progress_line(self) -> ProgressLine:
        return self.query_one(ProgressLine)  # query_one is cached by Textual

    @property
    def train_pane(self) -> TrainPane:
        return self.query_one(TrainPane)

    def _set_progress(self, **changes: Any) -> None:
        self.progress_line.update_progress(**changes)

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    @while_mounted
    def redraw_charts(self) -> None:
        """Replot the visible charts that have new points."""
        self._last_redraw = time.monotonic()
        if self.active_tab != "train":
            return
        for chart in self.train_pane.visible_charts():
            if chart.dirty:
                chart.replot()

    def _maybe_redraw_charts(self) -> None:
        # piggybacks on the metrics message rather than a timer: every wake-up of the UI
        # takes a core from the training process, whose two threads wait on each other
        if time.monotonic() - self._last_redraw >= CHART_REFRESH_S or len(self.train_pane.charts[0].train) <= 2:
            self.redraw_charts()  # (and at once for the first points, so the chart comes alive)

    # -- command palette and bindings ---------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Start training", "Train with the form's settings (f5)", self.action_start)
        yield SystemCommand("Pause training", "Pause the run at the next batch (f6)", self.action_pause)
        yield SystemCommand("Resume training", "Continue a paused run (f6)", self.action_resume)
        yield SystemCommand("Stop training", "Stop and save a resumable checkpoint (f7)", self.action_stop)
        yield SystemCommand("Show train view", "Form and live charts (f1)", lambda: self.action_show_tab("train"))
        yield SystemCommand("Show results", "Test accuracy and confusion matrix (f2)",
                            lambda: self.action_show_tab("results"))
        yield SystemCommand("Show misclassified", "The wrong digits (f3)",
                            lambda: self.action_show_tab("misclassified"))
        yield SystemCommand("Show runs", "Saved runs and checkpoints (f4)", lambda: self.action_show_tab("runs"))
        yield SystemCommand("Next chart", "Cycle loss / accuracy / learning rate (f8)", self.action_next_chart)
        yield SystemCommand("Draw a digit", "Draw with mouse or keys; a model reads it live (f9)", self.action_draw)
        yield SystemCommand("Draw with the selected run", "Draw, read by the run selected in Runs (w)",
                            self.action_draw_with_run)
        yield SystemCommand("Compare runs", "Curves and config of the runs marked in Runs (m marks, c compares)",
                            self.action_compare_runs)
        yield SystemCommand("Load checkpoint", "Evaluate the run selected in Runs (l)", self.action_load_checkpoint)
        yield SystemCommand("Resume run", "Continue the run selected in Runs (r)", self.action_resume_run)
        yield SystemCommand("Delete run", "Delete the run selected in Runs (d)", self.action_delete_run)
        yield SystemCommand("Refresh runs", "Re-read the checkpoints folder (ctrl+r)", self.action_refresh_runs)
        pane = self.query_one(MisclassifiedPane)
        yield SystemCommand("Sort misclassified", "Toggle confidence / index order (s)",
                            lambda: self._in_misclassified(pane.action_toggle_sort))
        yield SystemCommand("Filter misclassified by true class", "Next true class (t)",
                            lambda: self._in_misclassified(lambda: pane.action_cycle_true(1)))
        yield SystemCommand("Filter misclassified by predicted class", "Next predicted class (p)",
                            lambda: self._in_misclassified(lambda: pane.action_cycle_predicted(1)))
        yield SystemCommand("Clear misclassified filters", "Show every wrong digit (c)",
                            lambda: self._in_misclassified(pane.action_clear_filters))
        # one command per class, found by typing ("true 7", "predicted 3") rather than listed
        for label in range(10):
            yield SystemCommand(f"Misclassified with true class {label}", f"Wrong digits that are really {label}",
                                functools.partial(self._filter_misclassified, "true_label", label), discover=False)
            yield SystemCommand(f"Misclassified predicted as {label}", f"Wrong digits the model called {label}",
                                functools.partial(self._filter_misclassified, "predicted_label", label),
                                discover=False)
        yield from super().get_system_commands(screen)

    def _filter_misclassified(self, which: str, label: int) -> None:
        pane = self.query_one(MisclassifiedPane)
        filters = {"true_label": pane.true_label, "predicted_label": pane.predicted_label, which: label}
        self._in_misclassified(lambda: pane.set_filter(filters["true_label"], filters["predicted_label"]))

    def _in_misclassified(self, action) -> None:
        self.action_show_tab("misclassified")
        action()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide bindings that do nothing now; dim Start while the form is invalid."""
        if len(self.screen_stack) > 1 and action in ("start", "next_chart", "draw"):
            return False  # Draw, Compare and dialogs cover the form and the charts
        if action == "start":
            if self.run_state != "idle":
                return False
            return None if self.form_errors else True
        if action == "pause":
            return self.run_state in ("starting", "running")
        if action == "resume":
            return self.run_state == "paused"
        if action == "stop":
            return self.run_state in ("starting", "running", "paused")
        if action == "next_chart":
            return self.active_tab == "train"
        return True

    def _set_run_state(self, state: str) -> None:
        self.run_state = state
        idle = state == "idle"
        self.query_one("#start-button", Button).disabled = not idle or bool(self.form_errors)
        pause = self.query_one("#pause-button", Button)
        pause.label = "Resume" if state == "paused" else "Pause"
        pause.disabled = state not in ("running", "paused")
        self.query_one("#stop-button", Button).disabled = state not in ("starting", "running", "paused")
        for field in self.query_one(HParamForm).query(Input):
            field.cursor_blink = state not in ("starting", "running")  # a blink wakes the UI thread
        self.refresh_bindings()

    # -- navigation -------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        target = {"results": ConfusionTable, "misclassified": DigitGrid, "runs": DataTable}.get(tab)
        if target is not None:
            widget = self.query_one(f"#{tab}").query(target).first()
            if widget.display:
                widget.focus()
        elif not any(self.query_one(HParamForm).query("*:focus")):
            self.query_one(HParamForm).query_one("Select, Input").focus()
        self.refresh_bindings()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        if event.pane.id == "train":
            self.train_pane.apply_chart_layout()
            for chart in self.train_pane.charts:
                chart.dirty = True
            self.redraw_charts()
        elif event.pane.id == "runs":
            self.list_runs_in_background()

    def action_next_chart(self) -> None:
        self.query_one(TrainPane).next_chart()
        self.redraw_charts()

    # -- the form ---------------------------------------------------------------------------

    def on_hparam_form_validated(self, message: HParamForm.Validated) -> None:
        self.form_errors = message.errors
        self._set_run_state(self.run_state)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"start-button": self.action_start, "stop-button": self.action_stop,
                   "pause-button": self.action_resume if self.run_state == "paused" else self.action_pause}
        if event.button.id in actions:
            event.stop()
            actions[event.button.id]()

    # -- data -------------------------------------------------------------------------------

    def ensure_data(self, dataset: str = "mnist") -> Any:
        """Load a dataset (imports torch), keeping the last one in memory; called from workers only."""
        with self._data_lock:
            if self.data is None or self.data.dataset != dataset:
                from ..core.data import load_mnist

                self.data = load_mnist(self.data_dir, download=self.download, dataset=dataset)
                self.post_message(DataReady(self.data))
            return self.data

    @work(thread=True, exclusive=True, exit_on_error=False, group="data", name="load data")
    def load_data_in_background(self) -> None:
        try:
            self.ensure_data(self.initial_config.dataset)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app stays up
            self.post_message(DataFailed(str(exc)))

    @while_mounted
    def on_data_ready(self, message: DataReady) -> None:
        data = message.data
        if self.progress_line.progress.state in ("loading", "failed"):
            self._set_progress(state="idle", message=(
                f"Ready · {DATASET_TITLES[data.dataset]} {len(data.train_labels):,} train / {len(data.test_labels):,} test"
                " · f5 start · ctrl+p commands"))

    @while_mounted
    def on_data_failed(self, message: DataFailed) -> None:
        self._set_progress(state="failed", message="The dataset is not available: see the message (fix --data-dir).")
        self.push_screen(MessageScreen("The dataset could not be loaded", message.message))
        if self.evaluation is None:
            self.show_shipped_results_in_background()

    def _show_saved_evaluation(self, run_dir: Path, source: str, dataset: str = "mnist") -> bool:
        """Post the evaluation stored with a run (its misclassified digits); False if it has none. Worker only."""
        from ..core.analysis import saved_evaluation

        saved = saved_evaluation(run_dir)
        if saved is None:
            return False
        evaluation, images = saved
        self.post_message(EvaluationReady(evaluation, images, f"{source} · saved results (no dataset here)",
                                          CLASS_NAMES[dataset]))
        return True

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluation", name="shipped results")
    def show_shipped_results_in_background(self) -> None:
        """Without the dataset, Results and Misclassified show the shipped model's saved test results."""
        from .screens.draw import find_default_model

        run_dir = find_default_model(self.checkpoints_dir)
        if run_dir is not None:
            self._show_saved_evaluation(run_dir, run_dir.name)

    # -- training ---------------------------------------------------------------------------

    def action_start(self) -> None:
        if self.run_state != "idle":
            self.notify("A run is already in progress.", severity="warning")
            return
        form = self.query_one(HParamForm)
        config, errors = form.read()
        if config is None:
            first = next(iter(errors))
            self.notify(f"Fix the form first: {errors[first]}", severity="error")
            self.action_show_tab("train")
            form.query_one(f"#field-{first}").focus()
            return
        save_form(self.settings_path, form.preset, config)
        self._begin_run(config, None)

    def _begin_run(self, config: TrainConfig | None, resume: str | None) -> None:
        for chart in self.query(TrainingChart):
            chart.reset(config.epochs if config else None)
        self.run_dir = None
        with self._control_lock:
            self.control = None
            self._wanted = {"pause": False, "stop": False}
        self._set_run_state("starting")
        self._set_progress(state="starting", message="Starting: loading PyTorch and MNIST…" if self.data is None
                           else "Starting…", best_val=None)
        self.action_show_tab("train")
        self.train_in_background(config, resume)

    @work(thread=True, exclusive=True, exit_on_error=False, group="training", name="training")
    def train_in_background(self, config: TrainConfig | None, resume: str | None) -> None:
        """Train in a child process and forward each event; the only thing that crosses back is post_message.

        The child trains in its own main thread, as fast as the headless CLI (torch in a
        thread of this process ran at ~65% of that speed); this thread only waits on a pipe.
        """
        from ..core.process import TrainingProcess, TrainingProcessError

        process = None
        try:
            dataset = config.dataset if config is not None else self._dataset_of(resume)
            self.ensure_data(dataset)  # fails fast with the dataset's own help, and evaluation needs it later
            process = TrainingProcess(config, data_dir=self.data_dir, download=False, dataset=dataset,
                                      checkpoints_dir=self.checkpoints_dir, resume=resume,
                                      metrics_interval_s=self.metrics_interval_s)
            with self._control_lock:
                self.control = process
                if self._wanted["pause"]:
                    process.send("pause")
                if self._wanted["stop"]:
                    process.send("stop")
            for event in process.events():
                self.post_message(EngineEvent(event))
        except Exception as exc:  # noqa: BLE001 - never kill the app: report it
            from ..core.data import DataUnavailable

            if isinstance(exc, DataUnavailable) or (isinstance(exc, TrainingProcessError) and exc.data_unavailable):
                self.post_message(DataFailed(str(exc)))
            reason = str(exc) if isinstance(exc, TrainingProcessError) else f"{type(exc).__name__}: {exc}"
            self.post_message(TrainingCrashed(reason if str(exc) else repr(exc)))
        finally:
            if process is not None:
                process.close()

    @staticmethod
    def _dataset_of(resume: str) -> str:
        """The dataset a run being resumed was trained on (worker thread: reads its checkpoint)."""
        from ..core.checkpoints import load_checkpoint, resolve_checkpoint

        checkpoint = load_checkpoint(resolve_checkpoint(resume, prefer="last.pt"))
        return TrainConfig.from_dict(checkpoint["config"]).dataset

    def _command(self, name: str) -> None:
        """Pause/resume/stop the run, remembering it if the worker has not made its control yet."""
        with self._control_lock:
            if name == "pause":
                self._wanted["pause"] = True
            elif name == "resume":
                self._wanted["pause"] = False
            elif name == "stop":
                self._wanted["stop"] = True
            if self.control is not None:
                self.control.send(name)

    def action_pause(self) -> None:
        if self.run_state not in ("starting", "running"):
            self.notify("No run is training.", severity="warning")
            return
        self._command("pause")

    def action_resume(self) -> None:
        if self.run_state != "paused":
            self.notify("No run is paused.", severity="warning")
            return
        self._command("resume")

    def action_stop(self) -> None:
        if self.run_state not in ("starting", "running", "paused"):
            self.notify("No run is in progress.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes and self.run_state in ("starting", "running", "paused"):
                self._stop_run()

        self.push_screen(ConfirmScreen("Stop training?", "The run stops at the next batch and saves last.pt, "
                                       "which you can resume later from Runs (r).", yes="Stop", no="Keep training"),
                         answered)

    def _stop_run(self) -> None:
        self._command("stop")
        self._set_run_state("stopping")
        self._set_progress(state="stopping")

    @while_mounted
    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        self.events_seen.append(event.kind)
        self._event_arrived.set()
        if isinstance(event, StepMetrics):
            self._on_step(event)
        elif isinstance(event, RunStarted):
            self._on_started(event)
        elif isinstance(event, EpochEnd):
            loss, acc, _ = self.train_pane.charts
            loss.add_val(event.epoch, event.val_loss)
            acc.add_val(event.epoch, event.val_accuracy)
            self._set_progress(best_val=event.best_val_accuracy)
        elif isinstance(event, CheckpointSaved):
            self.last_checkpoint = event.path
        elif isinstance(event, Paused):
            self._set_run_state("paused")
            self._set_progress(state="paused")
        elif isinstance(event, Resumed):
            if self.run_state != "stopping":
                self._set_run_state("running")
                self._set_progress(state="running")
        elif isinstance(event, Stopped):
            self.notify(f"Stopped at epoch {event.epoch}, step {event.step}. Saved {Path(event.checkpoint).name}; "
                        "resume it from Runs (r).", title="Training stopped")
            self._set_progress(state="idle", message=f"Stopped {Path(event.run_dir).name} at epoch {event.epoch}, "
                               f"step {event.step} · saved {event.checkpoint} · resume from Runs (r)")
        elif isinstance(event, Finished):
            self._on_finished(event)
        elif isinstance(event, Failed):
            self.notify(event.reason, title="Training failed", severity="error", timeout=10)
            self._set_progress(state="failed", message=f"Failed: {event.reason}")
        if not isinstance(event, StepMetrics):
            self.redraw_charts()

    async def wait_for_event(self, kind: str, count: int = 1) -> None:
        """Wait until ``count`` engine events of ``kind`` ("paused", "finished", ...) have been handled."""
        while self.events_seen.count(kind) < count:
            if kind not in TERMINAL and self.events_seen and self.events_seen[-1] in TERMINAL:
                raise RuntimeError(f"the run ended ({self.events_seen[-1]}) before a {kind!r} event")
            self._event_arrived.clear()
            await self._event_arrived.wait()

    def _on_started(self, event: RunStarted) -> None:
        self.run_dir = event.run_dir
        self._steps_per_epoch = event.steps_per_epoch
        self._train_size = event.train_size
        loss, acc, lr = self.train_pane.charts
        for chart in (loss, acc, lr):
            chart.reset(event.epochs)
        if event.start_epoch:  # resumed: show the epochs already done
            from ..core.checkpoints import read_metrics  # torch is loaded: the engine is running

            for record in read_metrics(Path(event.run_dir))[:event.start_epoch]:
                loss.add_val(record["epoch"], record.get("val_loss"))
                acc.add_val(record["epoch"], record.get("val_accuracy"))
        start_step = event.start_epoch * event.steps_per_epoch
        self._set_progress(state="running", epoch=event.start_epoch + 1, epochs=event.epochs, step=0,
                           steps_per_epoch=event.steps_per_epoch, global_step=start_step, start_step=start_step,
                           samples_per_s=0.0, elapsed_s=0.0, best_val=None)
        if self.run_state == "starting":
            self._set_run_state("running")

    def _on_step(self, event: StepMetrics) -> None:
        x = (event.epoch - 1) + event.step / event.steps_per_epoch
        loss, acc, lr = self.train_pane.charts
        loss.add_train(x, event.loss)
        acc.add_train(x, event.accuracy)
        lr.add_train(x, event.lr)
        self._set_progress(epoch=event.epoch, step=event.step, global_step=event.global_step,
                           samples_per_s=event.samples_per_s, elapsed_s=event.elapsed_s)
        self._maybe_redraw_charts()

    def _on_finished(self, event: Finished) -> None:
        rate = self._train_size * event.epochs / event.train_seconds if event.train_seconds else 0.0
        self.last_train_rate = rate
        self.notify(f"test {event.test_accuracy:.2%} · {format_rate(rate)} · f2 Results",
                    title=f"Finished {event.run_name}")
        self._set_progress(state="idle", message=(
            f"Finished {event.run_name} · test {event.test_accuracy:.2%} · best val "
            + ("-" if event.best_val_accuracy is None else f"{event.best_val_accuracy:.2%}")
            + f" · {format_rate(rate)} · f2 Results · f3 Wrong"))
        checkpoint = Path(event.run_dir) / "last.pt"
        self.evaluate_in_background(str(checkpoint), f"{event.run_name} · last.pt (epoch {event.epochs})")

    @while_mounted
    def on_training_crashed(self, message: TrainingCrashed) -> None:
        self.notify(message.reason, title="Training failed", severity="error", timeout=10)
        self._set_progress(state="failed", message=f"Failed: {message.reason}")

    @while_mounted
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "training" and event.state in (WorkerState.SUCCESS, WorkerState.ERROR,
                                                          WorkerState.CANCELLED):
            with self._control_lock:
                self.control = None
            self._set_run_state("idle")
            if self.progress_line.progress.state in ("starting", "running", "paused", "stopping"):
                self._set_progress(state="idle", message="Run ended.")
            self.list_runs_in_background()
            if self._quit_when_stopped:
                self.exit()

    # -- evaluation -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluation", name="evaluate")
    def evaluate_in_background(self, checkpoint: str, source: str) -> None:
        """Evaluate a checkpoint on the test set in chunks, posting progress."""
        try:
            import torch

            from ..core.analysis import predict_probabilities, summarize
            from ..core.checkpoints import load_checkpoint, model_from_checkpoint

            from ..core.data import DataUnavailable

            model, config = model_from_checkpoint(load_checkpoint(Path(checkpoint)), "cpu")
            try:
                data = self.ensure_data(config.dataset)  # the test set the model was trained for
            except DataUnavailable:
                if not self._show_saved_evaluation(Path(checkpoint).parent, source, config.dataset):
                    raise
                return
            images, labels = data.test_images, data.test_labels
            chunk, parts = 1000, []
            self.post_message(EvaluationProgress(0, len(labels)))
            for start in range(0, len(labels), chunk):
                parts.append(predict_probabilities(model, images[start:start + chunk], batch_size=chunk))
                self.post_message(EvaluationProgress(min(start + chunk, len(labels)), len(labels)))
            probabilities = torch.cat(parts) if parts else torch.zeros(0, 10)
            self.post_message(EvaluationReady(summarize(probabilities, labels), images, source,
                                              CLASS_NAMES[config.dataset]))
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.post_message(EvaluationFailed(f"{type(exc).__name__}: {exc}"))

    @while_mounted
    def on_evaluation_progress(self, message: EvaluationProgress) -> None:
        self.query_one(ResultsPane).show_progress(message.done, message.total)

    @while_mounted
    def on_evaluation_ready(self, message: EvaluationReady) -> None:
        self.show_evaluation(message.evaluation, message.images, message.source, message.class_names)

    def show_evaluation(self, evaluation: Any, images: Any, source: str,
                        class_names: tuple[str, ...] | None = None) -> None:
        """Feed Results and Misclassified (also used by tests with a hand-made evaluation)."""
        self.evaluation = evaluation
        self.query_one(ResultsPane).show_evaluation(evaluation, source, class_names)
        self.query_one(MisclassifiedPane).set_evaluation(evaluation, images, class_names)

    @while_mounted
    def on_evaluation_failed(self, message: EvaluationFailed) -> None:
        self.query_one(ResultsPane).show_failure(message.reason)
        self.notify(message.reason, title="Evaluation failed", severity="error", timeout=10)

    def on_confusion_table_pair_chosen(self, message: ConfusionTable.PairChosen) -> None:
        self.query_one(MisclassifiedPane).set_filter(message.true_label, message.predicted)
        self.action_show_tab("misclassified")

    # -- runs -------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs", name="list runs")
    def list_runs_in_background(self) -> None:
        try:
            from ..core.checkpoints import list_runs

            self.post_message(RunsListed(list_runs(self.checkpoints_dir)))
        except Exception as exc:  # noqa: BLE001
            self.post_message(EvaluationFailed(f"could not list {self.checkpoints_dir}: {exc}"))

    @while_mounted
    def on_runs_listed(self, message: RunsListed) -> None:
        self.query_one(RunsPane).set_runs(message.runs, str(self.checkpoints_dir))

    def _selected_run(self) -> Any | None:
        run = self.query_one(RunsPane).selected
        if run is None:
            self.action_show_tab("runs")
            self.notify("Pick a run in the Runs view first.", severity="warning")
        elif run.error:
            self.notify(f"{run.name} cannot be read: {run.error}", severity="error")
            return None
        return run

    def action_refresh_runs(self) -> None:
        self.list_runs_in_background()

    # -- draw and compare (screens pushed over the tabs) -----------------------------------------

    def action_draw(self, model: str | None = None) -> None:
        """Open the Draw view, read by ``model`` (a run or file) or else the shipped fast-pretrained."""
        from .screens.draw import DrawScreen  # numpy loads when the view first opens, not at start-up

        if isinstance(self.screen, DrawScreen):
            return
        self.push_screen(DrawScreen(model, checkpoints_dir=self.checkpoints_dir))

    def action_draw_with_run(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.action_draw(run.path)

    def action_compare_runs(self) -> None:
        runs = [run for run in self.query_one(RunsPane).marked_runs if not run.error]
        if len(runs) < 2:
            self.action_show_tab("runs")
            self.notify("Mark two or more runs in Runs with m (or space), then press c.", severity="warning")
            return
        from .screens.compare import CompareScreen

        self.push_screen(CompareScreen([run.path for run in runs]))

    def action_load_checkpoint(self) -> None:
        run = self._selected_run()
        if run is None:
            return
        path = Path(run.path)
        name = "last.pt" if run.finished and (path / "last.pt").is_file() else (
            "best.pt" if (path / "best.pt").is_file() else "last.pt")
        source = f"{run.name} · {name}"
        self.query_one(ResultsPane).show_progress(0, 1, source)
        self.action_show_tab("results")
        self.evaluate_in_background(str(path / name), source)

    def action_resume_run(self) -> None:
        run = self._selected_run()
        if run is None:
            return
        if self.run_state != "idle":
            self.notify("Stop the current run before resuming another.", severity="warning")
            return
        if run.finished:
            self.notify(f"{run.name} already finished all {run.epochs} epochs.", severity="warning")
            return
        self._begin_run(None, run.path)

    def action_delete_run(self) -> None:
        run = self.query_one(RunsPane).selected
        if run is None:
            self.notify("Pick a run in the Runs view first.", severity="warning")
            return
        if self.run_state != "idle" and self.run_dir and Path(self.run_dir) == Path(run.path):
            self.notify("That run is training; stop it first.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            from ..core.checkpoints import CheckpointError, delete_run

            try:
                delete_run(run.path, self.checkpoints_dir)
            except (OSError, CheckpointError) as exc:
                self.notify(f"Could not delete {run.path}: {exc}", severity="error")
            else:
                self.notify(f"Deleted {run.name}.")
            self.list_runs_in_background()

        self.push_screen(ConfirmScreen("Delete run?", f"Delete {run.path} and every checkpoint in it? "
                                       "This cannot be undone.", yes="Delete", no="Keep"), answered)

    # -- quitting ---------------------------------------------------------------------------

    async def action_quit(self) -> None:
        if self.run_state not in ACTIVE:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._quit_when_stopped = True
                self._stop_run()
                self._set_progress(state="stopping")
                if self.run_state == "idle":
                    self.exit()

        self.push_screen(ConfirmScreen("Quit while training?", "The run stops at the next batch, saves a "
                                       "resumable last.pt, and then the app quits.", yes="Stop and quit",
                                       no="Keep training"), answered)


__all__ = ["MnistApp", "TABS"]
