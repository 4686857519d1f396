"""The mnist-tui terminal app: wiring between the tabs, the pushed views and the core's services.

Who owns what: the run controller (core.controller) the run's lifecycle and state;
``run_view.RunView`` the run as a person drives and watches it; the Results pane
fetching and showing test figures (core.evaluation, in its workers); ``views.Views``
the views pushed over the tabs (Draw, Tune, the lr finder); each pane its own keys.
Nothing here imports torch at module level, so the first frame appears at once;
torch and MNIST load in a worker while the form is usable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import TabbedContent, TabPane, Tabs

from ..core.controller import RunController, RunState
from ..core.data_cache import DatasetCache
from .data_status import DataLoading
from .keys import KeysPanelActions
from .main_screen import MainScreen
from .messages import (
    EngineEvents, EvaluationReady, RunEnded, TrainingCrashed, while_mounted,
)
from .panes.misclassified import MisclassifiedPane
from .panes.results import ResultsPane
from .panes.runs import RunsPane
from .panes.train import TrainPane
from .run_view import RunView
from .settings import default_settings_path, initial_form
from .toasts import ToastRepainter
from .views import Views
from .widgets.confusion import ConfusionTable
from .widgets.footer import FittingFooter
from .widgets.hparam_form import HParamForm
from .widgets.progress import ProgressLine

TABS = ("train", "results", "misclassified", "runs")


class MnistApp(DataLoading, KeysPanelActions, App):
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
        # first, while the keys panel is open (check_action lets escape through to the views otherwise)
        Binding("escape", "hide_help_panel", "Hide keys", show=False, priority=True),
        Binding("question_mark", "toggle_keys", "Keys", show=False),  # not priority: a field takes its "?"
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, data_dir: str | Path | None = None, checkpoints_dir: str | Path = "checkpoints",
                 preset: str | None = None, *, settings_path: str | Path | None = None,
                 load_data_on_start: bool = True, download: bool = True) -> None:
        super().__init__()
        if not os.environ.get("TEXTUAL_ANIMATIONS"):  # the tab underline slid over 0.3 s, the screen drawn
            self.animation_level = "none"  # again at each step (over SSH, each a frame sent): 0.3 s of CPU a switch
        self.data_dir = data_dir
        self.checkpoints_dir = Path(checkpoints_dir)
        self.settings_path = Path(settings_path) if settings_path else default_settings_path()
        self.load_data_on_start, self.download = load_data_on_start, download
        self.initial_preset, self.initial_config = initial_form(preset, self.settings_path)
        self.controller = RunController(lambda events: self.post_message(EngineEvents(events)),
                                        lambda reason, unavailable: self.post_message(
                                            TrainingCrashed(reason, unavailable)),
                                        lambda serial: self.post_message(RunEnded(serial)),
                                        checkpoints_dir=self.checkpoints_dir, data_dir=data_dir,
                                        spawn=lambda loop: self.run_worker(loop, name="training", group="training",
                                                                           thread=True, exit_on_error=False))
        self.dataset_cache = DatasetCache(data_dir, download)
        self.data_failed: str | None = None  # the dataset that could not be loaded, until one has been
        self.run_view = RunView(self)
        self.views = Views(self)
        self.form_errors: dict[str, str] = {}
        self.evaluation: Any = None
        self._toasts = ToastRepainter(self)

    @property
    def run_state(self) -> str:
        return self.controller.state.value

    @property
    def data(self) -> Any:
        """The dataset in memory (a core MnistData), or None before it has loaded."""
        return self.dataset_cache.current

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
        self._toasts.watch(self.NOTIFICATION_TIMEOUT if timeout is None else timeout)

    def notify_in_place(self, key: str, message: str, severity: Any = "information") -> None:
        """As notify, replacing the last toast of ``key`` still shown (steering's, one per key press)."""
        self._toasts.replace(key, message, severity, self.NOTIFICATION_TIMEOUT)

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's "Screenshot": into the folder the app runs in (Textual's default, ~/Downloads, may
        not exist, and then it only said "Failed to save screenshot")."""
        return super().deliver_screenshot(filename, path or os.getcwd(), time_format)

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
                yield RunsPane(self.checkpoints_dir)
        yield ProgressLine(id="progress")
        yield FittingFooter(compact=True)

    def get_default_screen(self) -> Screen:
        return MainScreen(self.size.width, self.HORIZONTAL_BREAKPOINTS, id="_default")

    def on_mount(self) -> None:
        # f1-f4 switch tabs: a focused tab bar only took the keys from the view below it (^y, ^t, - and +)
        self.query_one(TabbedContent).query_one(Tabs).can_focus = False
        self.query_one(HParamForm).query_one("Select, Input").focus()
        if self.load_data_on_start:
            self.load_data_in_background()
        else:
            self.set_progress(state="idle", message="Ready.")
        self.query_one(RunsPane).refresh_runs()

    @property
    def train_pane(self) -> TrainPane:
        return self.query_one(TrainPane)

    def set_progress(self, **changes: Any) -> None:
        self.query_one(ProgressLine).update_progress(**changes)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from .commands import app_commands

        own = getattr(screen, "system_commands", None)  # a pushed view's own actions first (Draw, Tune...):
        if own is not None:  # on equal scores the palette keeps the first
            yield from own()
        yield from app_commands(self)
        # (Textual's "Keys" shows the panel "Help: keys of this view (?)" does: the palette listed both)
        yield from (command for command in super().get_system_commands(screen) if command.title != "Keys")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide bindings that do nothing now (the controller's table decides)."""
        if action == "hide_help_panel":
            return bool(self.screen.query_children("HelpPanel"))  # (mounted on the screen; a whole query was slow)
        if len(self.screen_stack) > 1 and action in ("start", "next_chart", "draw", "tune", "find_lr", "show_tab") \
                and not (action == "find_lr" and type(self.screen).__name__ == "TuneScreen"):  # as its palette has it
            return False  # Draw, Compare and dialogs cover the tabs (f3 over Draw switched the one under it)
        if action in ("start", "pause", "resume", "stop"):
            if not self.controller.allowed(action):
                return False
            return True  # f5 with an invalid field says which, and goes there (the Start button is dimmed)
        if action == "next_chart":
            return self.query_one(TabbedContent).active == "train"
        return True

    def show_run_state(self, progress: bool = True) -> None:
        """Buttons, bindings and (with ``progress``) the progress line's state, all from the controller."""
        state = self.controller.state
        self.train_pane.show_run_state(state, not self.form_errors)
        self.query_one(RunsPane).show_training(self.controller.run_dir if self.controller.active else None,
                                               "paused" if state == RunState.PAUSED else "training")
        if state != RunState.IDLE and progress:
            self.set_progress(state=state.value)
        self.refresh_bindings()  # (the footer rebuilds itself only when a key changed)

    # -- navigation -------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        # where the keys go: Misclassified's grid, or its Why / Nearest panel while one is open (the grid,
        # hidden then, took no focus: every key was dead after f4, f3)
        targets = {"results": "ConfusionTable", "misclassified": "DigitGrid, InsightPanel", "runs": "DataTable"}
        shown = list(self.query_one(f"#{tab}").query(targets[tab])) if tab in targets else []
        widget = next((w for w in shown if w.display), shown[0] if shown else None)
        away = self.focused is not None and self.query_one(f"#{tab}") not in self.focused.ancestors
        if (widget is not None and not widget.display) or (widget is None and away):  # (Train has no one widget)
            # nothing to focus there (no results yet): let go first, or the hidden view's focused widget hands
            # its focus to a sibling in that view (the Runs filter), and the tabs follow it back there
            self.screen.set_focus(None)
        self.query_one(TabbedContent).active = tab
        if widget is not None:
            if widget.display:
                widget.focus()
        elif tab == "train":
            self.train_pane.keep_focus_here()
        self.refresh_bindings()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        if event.pane.id == "runs":
            self.query_one(RunsPane).refresh_runs()

    def action_next_chart(self) -> None:
        self.train_pane.next_chart()

    def action_draw(self, model: str | None = None) -> None:
        self.views.draw(model)

    def action_tune(self) -> None:
        self.views.tune()

    def action_find_lr(self) -> None:
        self.views.find_lr()

    def on_tune_screen_use_best(self, message: Any) -> None:
        self.views.use_best(message)

    def on_tune_screen_open_run(self, message: Any) -> None:
        self.views.open_run(message)

    # -- the form ---------------------------------------------------------------------------

    @while_mounted
    def on_hparam_form_validated(self, message: HParamForm.Validated) -> None:
        self.form_errors = message.errors  # the buttons: a failed run's line read "starting" again (its form back)
        self.show_run_state(progress=False)
        self.run_view.form_checked(message.errors)
        self.say_ready()

    # -- training ---------------------------------------------------------------------------

    def action_start(self) -> None:
        self.run_view.start_from_form()

    def action_pause(self) -> None:
        if not self.controller.allowed("pause"):  # the palette offers it at any time: say why not
            self.notify("No run is training: nothing to pause.", severity="warning")
            return
        self.controller.pause()

    def action_resume(self) -> None:
        if not self.controller.allowed("resume"):
            self.notify("No run is paused. A stopped run resumes from Runs (f4, r).", severity="warning")
            return
        self.controller.resume()

    def action_steer(self, factor: float) -> None:
        self.run_view.steer(factor)

    def action_stop(self) -> None:
        self.run_view.ask_stop()

    @while_mounted
    def on_engine_events(self, message: EngineEvents) -> None:
        self.run_view.show(message.events)
        if self.controller.state != self.train_pane.shown_state:  # most batches are points: nothing to redo
            self.show_run_state()

    @while_mounted
    def on_training_crashed(self, message: TrainingCrashed) -> None:
        self.run_view.crashed(message.reason, message.data_unavailable)

    @while_mounted
    async def on_run_ended(self, message: RunEnded) -> None:
        self.query_one(RunsPane).refresh_runs()
        if self.run_view.ended(message.serial) and self.run_view.quit_when_stopped:
            # once the training worker has returned, so nothing is cancelled
            await self.workers.wait_for_complete([w for w in self.workers if w.group == "training"])
            self.exit(result=self.run_view.quit_message)  # printed by run_app, unwrapped

    # -- evaluation (the Results pane fetches; Misclassified shows the same) ---------------------

    @while_mounted
    def on_evaluation_ready(self, message: EvaluationReady) -> None:
        shown = message.evaluated
        self.query_one(MisclassifiedPane).set_checkpoint(shown.checkpoint, self.data_dir)  # for e, n, l and M
        self.evaluation = shown.evaluation
        self.query_one(MisclassifiedPane).set_evaluation(shown.evaluation, shown.images, shown.class_names, shown.tta)

    def on_evaluation_failed(self, _message: Any) -> None:
        """Results says why; Misclassified had the previous run's digits, which are not this one's."""
        self._forget_evaluation()

    def _forget_evaluation(self) -> None:
        self.evaluation = None
        self.query_one(MisclassifiedPane).set_checkpoint(None)
        self.query_one(MisclassifiedPane).set_evaluation(None, None)

    def show_evaluation(self, evaluation: Any, images: Any, source: str,
                        class_names: tuple[str, ...] | None = None) -> None:
        """Feed Results and Misclassified."""
        self.evaluation = evaluation
        self.query_one(ResultsPane).show_evaluation(evaluation, source, class_names)
        self.query_one(MisclassifiedPane).set_evaluation(evaluation, images, class_names)

    def on_confusion_table_pair_chosen(self, message: ConfusionTable.PairChosen) -> None:
        self.query_one(MisclassifiedPane).set_filter(message.true_label, message.predicted)
        self.action_show_tab("misclassified")

    # -- runs -------------------------------------------------------------------------------

    def on_runs_pane_load_requested(self, message: RunsPane.LoadRequested) -> None:
        self.load_run(Path(message.run.path))

    def on_runs_pane_deleted(self, message: RunsPane.Deleted) -> None:
        self.run_view.run_deleted(message.run.path)
        misclassified = self.query_one(MisclassifiedPane)
        if misclassified.checkpoint and Path(misclassified.checkpoint).parent == Path(message.run.path):
            self._forget_evaluation()
            self.query_one(ResultsPane).show_deleted(message.run.name)
            misclassified.show_deleted(message.run.name)

    def load_run(self, path: Path) -> None:
        """Results and Misclassified for a run folder's test checkpoint."""
        self.action_show_tab("results")
        self.query_one(ResultsPane).load_run(path, self.dataset_cache)
        self.run_view.run_loaded(path)

    def on_runs_pane_config_requested(self, message: Any) -> None:
        """Runs asked to load a run's config into the form (for the next run)."""
        form = self.query_one(HParamForm)
        form.set_config(message.config, None)
        self.action_show_tab("train")
        form.show_top()
        self.notify(f"The form holds {message.name}'s config{message.note}: f5 trains a new run with it.")

    def on_runs_pane_resume_requested(self, message: RunsPane.ResumeRequested) -> None:
        self.run_view.start(None, message.run.path, message.extra_epochs)

    def on_runs_pane_draw_requested(self, message: RunsPane.DrawRequested) -> None:
        self.action_draw(message.run.path)

    # -- quitting ---------------------------------------------------------------------------

    async def action_quit(self) -> None:
        from .screens.tune import TuneScreen

        sweep = next((s for s in self.screen_stack if isinstance(s, TuneScreen) and s.running), None)
        if self.controller.active:
            self.run_view.ask_stop(quitting=True)
        elif sweep is not None:  # asks, like training: yes stops the study cleanly, then quits
            sweep.ask_quit()
        else:
            self.exit(result=self.run_view.quit_message)  # printed by run_app, unwrapped


__all__ = ["MnistApp", "TABS"]
