"""The mnist-tui terminal app: wiring between the panes and the core's services.

The run controller (core.controller) owns the run's lifecycle and state; the
evaluation service (core.evaluation) owns evaluating; the panes own their keys
and their widgets. Nothing here imports torch at module level, so the first frame
appears at once; torch and MNIST load in a worker while the form is usable.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, TabbedContent, TabPane

from ..core.config import DATASET_TITLES, PRESETS, TrainConfig
from ..core.controller import RunController, RunState
from ..core.events import (
    EpochEnd, Event, Failed, Finished, LrChanged, Paused, Resumed, RunStarted, StepMetrics, Stopped,
)
from ..core.formatting import percent
from ..core.runs import read_metrics, read_points
from .messages import (
    DataFailed, DataReady, EngineEvents, EvaluationFailed, EvaluationProgress, EvaluationReady, RunEnded,
    RunsListed, TrainingCrashed,
)
from .panes.misclassified import MisclassifiedPane
from .panes.results import ResultsPane
from .panes.runs import RunsPane
from .panes.train import TrainPane
from .settings import default_settings_path, load_form, save_form
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


TABS = ("train", "results", "misclassified", "runs")


class MnistApp(App):
    """Train, watch and inspect MNIST classifiers. See the README's "The app" section for keys."""

    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute: subclasses (the tests') live elsewhere
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-wide")]
    TITLE = "mnist-tui"
    BINDINGS = [
        # the tab labels show f1-f4, so the footer keeps its room for the actions
        Binding("f1", "show_tab('train')", "Train", show=False),
        Binding("f2", "show_tab('results')", "Results", show=False),
        Binding("f3", "show_tab('misclassified')", "Misclassified", show=False),
        Binding("f4", "show_tab('runs')", "Runs", show=False),
        Binding("f5", "start", "Start"),
        Binding("f6", "pause", "Pause"),
        Binding("f6", "resume", "Resume"),
        Binding("f7", "stop", "Stop"),
        Binding("f8", "next_chart", "Chart"),
        Binding("f9", "draw", "Draw"),
        Binding("f10", "tune", "Tune"),
        Binding("ctrl+l", "find_lr", "Find lr", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, data_dir: str | Path | None = None, checkpoints_dir: str | Path = "checkpoints",
                 preset: str | None = None, *, settings_path: str | Path | None = None,
                 load_data_on_start: bool = True, download: bool = True) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.checkpoints_dir = Path(checkpoints_dir)
        self.settings_path = Path(settings_path) if settings_path else default_settings_path()
        self.load_data_on_start = load_data_on_start
        self.download = download
        self.initial_preset, self.initial_config = self._initial_form(preset)
        self.controller = RunController(lambda events: self.post_message(EngineEvents(events)),
                                        lambda reason, unavailable: self.post_message(
                                            TrainingCrashed(reason, unavailable)),
                                        lambda serial: self.post_message(RunEnded(serial)),
                                        checkpoints_dir=self.checkpoints_dir, data_dir=data_dir,
                                        spawn=lambda loop: self.run_worker(loop, name="training", group="training",
                                                                           thread=True, exit_on_error=False))
        self.data: Any = None
        self._data_lock = threading.Lock()
        self.form_errors: dict[str, str] = {}
        self.evaluation: Any = None
        self._form_to_save: tuple[str | None, TrainConfig] | None = None  # saved once the run has started
        self.quit_message: str | None = None  # printed after the app closes (where a stopped run was saved)
        self._quit_when_stopped = False

    def _initial_form(self, preset: str | None) -> tuple[str | None, TrainConfig]:
        """Last used values, unless a different preset was asked for."""
        saved_preset, saved = load_form(self.settings_path)
        if saved is not None and (preset is None or preset == saved_preset):
            return saved_preset, saved
        name = preset if preset in PRESETS else "seed-mlp"
        return name, PRESETS[name]

    @property
    def run_state(self) -> str:
        return self.controller.state.value

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
    def train_pane(self) -> TrainPane:
        return self.query_one(TrainPane)

    def _set_progress(self, **changes: Any) -> None:
        self.query_one(ProgressLine).update_progress(**changes)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from .commands import app_commands

        yield from app_commands(self)
        own = getattr(screen, "system_commands", None)  # a pushed view's own actions (Draw, Tune...)
        if own is not None:
            yield from own()
        yield from super().get_system_commands(screen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide bindings that do nothing now (the controller's table decides); dim Start while the form is invalid."""
        if len(self.screen_stack) > 1 and action in ("start", "next_chart", "draw", "tune", "find_lr"):
            return False  # Draw, Compare and dialogs cover the form and the charts
        if action in ("start", "pause", "resume", "stop"):
            if not self.controller.allowed(action):
                return False
            return None if action == "start" and self.form_errors else True
        if action == "next_chart":
            return self.query_one(TabbedContent).active == "train"
        return True

    def _show_run_state(self) -> None:
        """Buttons, bindings and the progress line's state, all from the controller."""
        state = self.controller.state
        self.train_pane.show_run_state(state, not self.form_errors)
        self.query_one(RunsPane).training = self.controller.run_dir if self.controller.active else None
        if state != RunState.IDLE:
            self._set_progress(state=state.value)
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
        if event.pane.id == "runs":
            self.list_runs_in_background()

    def action_next_chart(self) -> None:
        self.train_pane.next_chart()

    def action_draw(self, model: str | None = None) -> None:
        """Open the Draw view, read by ``model`` (a run or file) or else the shipped fast-pretrained."""
        from .screens.draw import DrawScreen  # numpy loads when the view first opens, not at start-up

        if not isinstance(self.screen, DrawScreen):
            self.push_screen(DrawScreen(model, checkpoints_dir=self.checkpoints_dir))

    def action_tune(self) -> None:
        """Open the Tune view (Optuna sweeps), its base config the form's values."""
        from .screens.tune import TuneScreen

        if not isinstance(self.screen, TuneScreen):
            form = self.query_one(HParamForm)
            config = form.read()[0] or self.initial_config
            self.push_screen(TuneScreen(config, checkpoints_dir=self.checkpoints_dir, data_dir=self.data_dir,
                                        preset=form.preset or "fast"))

    def on_tune_screen_use_best(self, message: Any) -> None:
        self.pop_screen()
        self.query_one(HParamForm).set_config(message.config, None)
        self.action_show_tab("train")
        self.notify(f"The form holds the best trial's config (val {percent(message.value)}): f5 trains it.")

    def on_tune_screen_open_run(self, message: Any) -> None:
        self.pop_screen()
        self.load_run(Path(message.run_dir))

    def action_find_lr(self) -> None:
        """The learning-rate range test for the form's config; "Use it" fills the form's learning rate."""
        from .screens.lr_find import LrFindScreen

        form = self.query_one(HParamForm)
        config, errors = form.read()
        if config is None:
            self._set_progress(message=f"Cannot find a learning rate: {next(iter(errors.values()))}")
            return

        def use(lr: float | None) -> None:
            if lr is not None:
                form.set_config(config.replace(lr=lr), None)
                self.notify(f"learning rate {lr:.3g} in the form: f5 trains with it.")

        self.push_screen(LrFindScreen(config, data_dir=self.data_dir), use)

    # -- the form ---------------------------------------------------------------------------

    def on_hparam_form_validated(self, message: HParamForm.Validated) -> None:
        self.form_errors = message.errors
        self._show_run_state()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"start-button": self.action_start, "stop-button": self.action_stop,
                   "pause-button": self.action_resume if self.controller.state == RunState.PAUSED
                   else self.action_pause}
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
        if self.query_one(ProgressLine).progress.state in ("loading", "failed"):
            self._set_progress(state="idle", message=(
                f"Ready · {DATASET_TITLES[data.dataset]} {len(data.train_labels):,} train / "
                f"{len(data.test_labels):,} test · f5 start · ctrl+p commands"))

    @while_mounted
    def on_data_failed(self, message: DataFailed) -> None:
        self._set_progress(state="failed", message="The dataset is not available: see the message.")
        self.push_screen(MessageScreen("The dataset could not be loaded", message.message))
        if self.evaluation is None:
            self.show_saved_results_in_background(None)

    # -- training ---------------------------------------------------------------------------

    def action_start(self) -> None:
        if not self.controller.allowed("start"):
            self.notify("A run is already in progress.", severity="warning")
            return
        form = self.query_one(HParamForm)
        config, errors = form.read()
        if config is None:
            first = next(iter(errors))
            self._set_progress(state="idle", message=f"Cannot start: {errors[first]}")
            self.action_show_tab("train")
            form.query_one(f"#field-{first}").focus()
            return
        self._form_to_save = (form.preset, config)  # remembered once it has started: a bad dataset is not
        self._start(config)

    def _start(self, config: TrainConfig | None, resume: str | None = None, extra_epochs: int = 0) -> None:
        self.train_pane.clear_charts(config.epochs if config else None, "starting…")
        self._set_progress(message="Starting: loading PyTorch and MNIST…" if self.data is None else "Starting…",
                           best_val=None)
        self.controller.start(config, resume=resume, extra_epochs=extra_epochs,
                              dataset=config.dataset if config else self._dataset_of(resume))
        self._show_run_state()
        self.action_show_tab("train")

    def _dataset_of(self, run_dir: str | None) -> str:
        from ..core.runs import read_config

        try:
            return read_config(run_dir).dataset
        except (OSError, ValueError, TypeError):
            return "mnist"  # the child reports the run's own problem

    def action_pause(self) -> None:
        self.controller.pause()

    def action_resume(self) -> None:
        self.controller.resume()

    def action_steer(self, factor: float) -> None:
        if not self.controller.allowed("steer"):
            self.notify("No run is training: the learning rate of a run is steered while it trains.",
                        severity="warning")
            return
        total = self.controller.steer(factor)
        self.notify(f"Learning rate x{factor:g} from the next batch (now x{total:g} the schedule).")

    def action_stop(self) -> None:
        if not self.controller.allowed("stop"):
            self.notify("No run is in progress.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.controller.stop()
                self._show_run_state()

        self.push_screen(ConfirmScreen("Stop training?", "The run stops at the next batch and saves last.pt, "
                                       "which you can resume later from Runs (r).", yes="Stop", no="Keep training"),
                         answered)

    @while_mounted
    def on_engine_events(self, message: EngineEvents) -> None:
        points = [event for event in message.events if isinstance(event, StepMetrics)]
        for event in message.events:
            self.controller.handle(event)
            if not isinstance(event, StepMetrics):
                self._on_event(event)
        if points:
            self.train_pane.add_points(points)
            last = points[-1]
            self._set_progress(epoch=last.epoch, step=last.step, global_step=last.global_step,
                               samples_per_s=last.samples_per_s, elapsed_s=last.elapsed_s)
        self._show_run_state()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._on_started(event)
        elif isinstance(event, EpochEnd):
            self.train_pane.epoch_end(event)
            self._set_progress(best_val=event.best_val_accuracy)
        elif isinstance(event, LrChanged):
            self._set_progress(message=f"learning rate x{event.factor:g} from step {event.global_step}")
        elif isinstance(event, (Paused, Resumed)):
            pass  # the controller's state says it
        elif isinstance(event, Stopped):
            where = f"Stopped {Path(event.run_dir).name} at epoch {event.epoch}, step {event.step} · saved " \
                    f"{event.checkpoint} · resume from Runs (r)"
            self.quit_message = f"{where}\nResume with: mnist-tui train --resume {Path(event.run_dir).resolve()}" + (
                f" --data-dir {Path(self.data_dir).resolve()}" if self.data_dir else "")
            self._set_progress(state="idle", message=where)
        elif isinstance(event, Finished):
            self._on_finished(event)
        elif isinstance(event, Failed):
            self.notify(event.reason, title="Training failed", severity="error", timeout=10)
            self._set_progress(state="failed", message=f"Failed: {event.reason}")

    def _on_started(self, event: RunStarted) -> None:
        if self._form_to_save is not None:
            save_form(self.settings_path, *self._form_to_save)
            self._form_to_save = None
        run_dir = Path(event.run_dir)
        resumed = event.start_epoch or event.start_step
        self.train_pane.run_started(event, read_points(run_dir) if resumed else [],
                                    read_metrics(run_dir)[:event.start_epoch] if resumed else [])
        if resumed:  # the form shows the run's own config
            self.query_one(HParamForm).set_config(TrainConfig.from_dict(event.config), None)
        start_step = event.start_epoch * event.steps_per_epoch + event.start_step
        self._set_progress(state="running", epoch=event.start_epoch + 1, epochs=event.epochs, step=event.start_step,
                           steps_per_epoch=event.steps_per_epoch, global_step=start_step, start_step=start_step,
                           samples_per_s=0.0, elapsed_s=0.0, best_val=None)

    def _on_finished(self, event: Finished) -> None:
        progress = self.query_one(ProgressLine).progress
        rate = progress.samples_per_s
        source = f"{event.run_name} · last (epoch {event.epochs})"
        self.notify(f"test {percent(event.test_accuracy)} ({source}) · f2 Results", title="Finished")
        self._set_progress(state="idle", message=(
            f"Finished {source} · test {percent(event.test_accuracy)} · best val "
            f"{percent(event.best_val_accuracy)} · {format_rate(rate)} · f2 Results · f3 Misclassified"))
        self.show_saved_results_in_background(event.run_dir)

    @while_mounted
    def on_training_crashed(self, message: TrainingCrashed) -> None:
        if message.data_unavailable:
            self._form_to_save = None
            self._set_progress(state="failed", message="Cannot train: the dataset is missing (see the message).")
            self.push_screen(MessageScreen("The dataset could not be loaded",
                                           f"{message.reason}\n\nOr pick another dataset in the form's "
                                           "\"dataset\" field."))
            return
        self.notify(message.reason, title="Training failed", severity="error", timeout=10)
        self._set_progress(state="failed", message=f"Failed: {message.reason}")

    @while_mounted
    async def on_run_ended(self, message: RunEnded) -> None:
        self.controller.handle_end(message.serial)
        if self.query_one(ProgressLine).progress.state in ("starting", "running", "paused", "stopping"):
            self._set_progress(state="idle", message="Run ended.")
        self._show_run_state()
        self.list_runs_in_background()
        if self._quit_when_stopped:  # once the training worker has returned, so nothing is cancelled
            await self.workers.wait_for_complete([w for w in self.workers if w.group == "training"])
            self.exit(message=self.quit_message)

    # -- evaluation -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluation", name="evaluate")
    def evaluate_in_background(self, checkpoint: str) -> None:
        """Evaluate a checkpoint on the test set in chunks, posting progress (core.evaluation)."""
        try:
            from ..core.evaluation import evaluate_checkpoint

            evaluated = evaluate_checkpoint(checkpoint, self.ensure_data,
                                            lambda done, total: self.post_message(EvaluationProgress(done, total)))
            self.post_message(EvaluationReady(evaluated))
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.post_message(EvaluationFailed(str(exc) or type(exc).__name__))

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluation", name="saved results")
    def show_saved_results_in_background(self, run_dir: str | None) -> None:
        """What a run saved at its end (no second evaluation); ``None``: the shipped model's, without data."""
        try:
            from ..core.evaluation import find_default_model, finished_run_evaluation

            folder = Path(run_dir) if run_dir else find_default_model(self.checkpoints_dir)
            shown = finished_run_evaluation(folder, self.data) if folder else None
            if shown is not None:
                self.post_message(EvaluationReady(shown))
        except Exception as exc:  # noqa: BLE001
            self.post_message(EvaluationFailed(str(exc) or type(exc).__name__))

    @while_mounted
    def on_evaluation_progress(self, message: EvaluationProgress) -> None:
        self.query_one(ResultsPane).show_progress(message.done, message.total)

    @while_mounted
    def on_evaluation_ready(self, message: EvaluationReady) -> None:
        shown = message.evaluated
        self.query_one(MisclassifiedPane).set_checkpoint(shown.checkpoint, self.data_dir)  # for e, n, l and M
        self.show_evaluation(shown.evaluation, shown.images, shown.source, shown.class_names)

    def show_evaluation(self, evaluation: Any, images: Any, source: str,
                        class_names: tuple[str, ...] | None = None) -> None:
        """Feed Results and Misclassified."""
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
            from ..core.runs import list_runs

            self.post_message(RunsListed(list_runs(self.checkpoints_dir)))
        except Exception as exc:  # noqa: BLE001
            self.post_message(EvaluationFailed(f"could not list {self.checkpoints_dir}: {exc}"))

    @while_mounted
    def on_runs_listed(self, message: RunsListed) -> None:
        self.query_one(RunsPane).set_runs(message.runs, str(self.checkpoints_dir))

    def on_runs_pane_refresh_requested(self, message: RunsPane.RefreshRequested) -> None:
        self.list_runs_in_background()

    def on_runs_pane_load_requested(self, message: RunsPane.LoadRequested) -> None:
        self.load_run(Path(message.run.path))

    def load_run(self, path: Path) -> None:
        """Results and Misclassified for a run folder's test checkpoint."""
        from ..core.runs import CHECKPOINT_FILES, read_result

        name = "last.pt" if read_result(path) and (path / "last.pt").is_file() else next(
            (n for n in CHECKPOINT_FILES if (path / n).is_file()), "last.pt")
        self.query_one(ResultsPane).show_progress(0, 1, f"{path.name} · {name}")
        self.action_show_tab("results")
        self.evaluate_in_background(str(path / name))

    def on_runs_pane_config_requested(self, message: Any) -> None:
        """Runs asked to load a run's config into the form (for the next run)."""
        self.query_one(HParamForm).set_config(message.config, None)
        self.action_show_tab("train")
        self.notify(f"The form holds {message.name}'s config: f5 trains a new run with it.")

    def on_runs_pane_resume_requested(self, message: RunsPane.ResumeRequested) -> None:
        if not self.controller.allowed("start"):
            self.notify("Stop the current run before resuming another.", severity="warning")
            return
        self._start(None, message.run.path, message.extra_epochs)

    def on_runs_pane_draw_requested(self, message: RunsPane.DrawRequested) -> None:
        self.action_draw(message.run.path)

    # -- quitting ---------------------------------------------------------------------------

    async def action_quit(self) -> None:
        if not self.controller.active:
            self.exit(message=self.quit_message)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._quit_when_stopped = True
                self.controller.stop()
                self._show_run_state()

        self.push_screen(ConfirmScreen("Quit while training?", "The run stops at the next batch, saves a "
                                       "resumable last.pt, and then the app quits.", yes="Stop and quit",
                                       no="Keep training"), answered)


__all__ = ["MnistApp", "TABS"]
