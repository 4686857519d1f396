"""The run as a person drives and watches it: commands in, events shown.

The run controller (core.controller) decides the run's state and what is allowed; this is the UI side of
it, in one place: starting from the form (or resuming a run), steering, the stop and quit confirmations, and
each batch of events turned into what a person sees: chart points and epochs for the Train view, the progress
line, the Finished/Stopped/Failed messages, a resumed run's history and config, and what to print after the
app closes mid-run.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import Input

from ..core.config import DATASET_TITLES, TrainConfig
from ..core.controller import RunState
from ..core.events import (
    EpochEnd, Event, Failed, Finished, LrChanged, Paused, Resumed, RunStarted, StepMetrics, Stopped,
)
from ..core.formatting import COLLAPSED, collapsed, percent, tested
from ..core.runs import read_config, read_metrics, read_points
from .panes.results import ResultsPane
from .screens.tune_questions import busy_question_answered
from .settings import save_form
from .widgets.dialogs import ConfirmScreen, MessageScreen
from .widgets.hparam_form import HParamForm, name_problem
from .widgets.progress import ProgressLine, format_rate, phase_after, within_folder

if TYPE_CHECKING:
    from .app import MnistApp


MISSING_DATA = "{} could not be loaded · pick another dataset, or --data-dir"  # "(see the message)" outlived it


class RunView:
    """Gives the controller the person's commands and shows its events; owned by the app."""

    def __init__(self, app: MnistApp) -> None:
        self.app, self.quit_when_stopped = app, False
        self.form_to_save: tuple[str | None, TrainConfig] | None = None  # remembered once the run has started
        self.form_draft: tuple[TrainConfig, str | None, dict[str, str]] | None = None  # what a resumed run covers
        self._resuming = False
        self._stopped: Stopped | None = None  # the last run stopped and not since finished (see quit_message)
        self._said: str | None = None  # the run folder the idle status line names (finished, stopped, failed)
        self._charted: str | None = None  # the run folder whose curves Train's charts show
        self.stop_question: ConfirmScreen | None = None  # "Stop training?" while it waits for an answer
        self._refusal: tuple[str, tuple[str, str]] | None = None  # "Cannot start…" and the (state, message) before
        self._refused = "start"  # what was refused: "start", "tune", "find a learning rate"
        self._start_once_loaded: tuple[str | None, TrainConfig, str | None] | None = None  # f5 on missing data

    @property
    def quit_message(self) -> str | None:
        """Printed after the app closes (by run_app: Rich wrapped it, walk34 F6): how to resume a stopped run."""
        if self._stopped is None:
            return None
        data_dir = self.app.data_dir
        data = f" --data-dir {shlex.quote(str(Path(data_dir).resolve()))}" if data_dir else ""
        where = _where_stopped(self._stopped).removesuffix(" · resume from Runs (r)")  # (the app has gone)
        run = shlex.quote(str(Path(self._stopped.run_dir).resolve()))
        return f"{where}\nResume with: mnist-tui train --resume {run}{data}"

    # -- commands --------------------------------------------------------------------------

    def start_from_form(self) -> None:
        app = self.app
        if not app.controller.allowed("start"):
            app.notify("A run is already in progress.", severity="warning")
            return
        form = app.query_one(HParamForm)
        config, errors = form.read()
        if config is None:
            first = next(iter(errors))
            self.refuse(errors)
            app.action_show_tab("train")
            form.focus_error(first)
            return
        if form.run_name is not None and (problem := name_problem(app.checkpoints_dir, form.run_name)):
            self.refuse({"run_name": problem})
            app.notify(problem, title="Cannot start", severity="warning")
            app.action_show_tab("train")
            form.query_one("#field-run_name").focus()
            return
        loaded = app.dataset_cache.current
        if app.data_failed == config.dataset or loaded is None or loaded.dataset != config.dataset:
            # read (downloaded where missing, as by ctrl+l: walk36 F11) here first: a run's process said "Form
            # locked while the run trains" (and offered pause and stop) until it failed (walk29 F6)
            self._start_once_loaded, again = (form.preset, config, form.run_name), app.data_failed == config.dataset
            app.set_progress(state="idle", message=f"Looking for {DATASET_TITLES[config.dataset]}{' again' * again}…")
            app.load_data_in_background(config.dataset)
            return
        self.form_to_save = (form.preset, config)  # remembered once it has started: a bad dataset is not
        self.start(config, run_name=form.run_name)

    def data_loaded(self, loaded: bool = True) -> None:
        """The dataset is there now: the run f5 asked for while it was missing starts (not ``loaded``: it is not)."""
        asked, self._start_once_loaded = self._start_once_loaded, None
        if asked is not None and loaded:
            self.form_to_save = asked[:2]
            self.start(asked[1], run_name=asked[2])

    def data_missing(self, dataset: str, reason: str) -> None:
        """``dataset`` could not be loaded (at start-up, for f5, or in a run's process): said the same way each
        time, and the form's dataset field gets the keys (where the message points)."""
        app = self.app
        app.set_progress(state="failed", message=MISSING_DATA.format(DATASET_TITLES[dataset]))
        app.push_screen(MessageScreen("The dataset could not be loaded",
                                      f"{reason}\n\nOr pick another dataset in the form's \"dataset\" field."),
                        lambda _: app.query_one("#field-dataset").focus())

    def refuse(self, errors: dict[str, str], what: str = "start") -> None:
        """Say on the progress line why the form cannot ``what`` (f5, f10, the finder); it follows the form."""
        self._refused = what
        self._refuse(errors)

    def _refuse(self, errors: dict[str, str]) -> None:
        """Say on the progress line why the form cannot start a run (its first error)."""
        line = self.app.query_one(ProgressLine).progress
        shown = self._refusal is not None and line.message == self._refusal[0]
        before = self._refusal[1] if shown else (line.state, line.message)
        message = f"Cannot {self._refused}: {errors[next(iter(errors))]}"
        self._refusal = (message, before)
        # while the data loads the line keeps saying so: its Ready message replaces this one
        self.app.set_progress(state="loading" if line.state == "loading" else "idle", message=message)

    def form_checked(self, errors: dict[str, str]) -> None:
        """A "Cannot start" message follows the form: it says the first error left, and goes once none is.
        A missing dataset's failure goes at the form's first change (another dataset, most likely)."""
        line = self.app.query_one(ProgressLine).progress
        if line.message in {MISSING_DATA.format(title) for title in DATASET_TITLES.values()}:
            self.app.set_progress(state="idle", message="Ready · f5 start · ctrl+p commands")
            line = self.app.query_one(ProgressLine).progress
        if errors and self._refusal is None and line.state == "idle" and line.message.startswith("Ready"):
            self.refuse(errors)  # said at once: "Ready · f5 start" stood over a field in error until f5
            return
        if self._refusal is None or line.message != self._refusal[0]:
            self._refusal = None  # something else has been said since
            return
        if errors:
            self._refuse(errors)
            return
        (state, message), self._refusal = self._refusal[1], None
        self.app.set_progress(state=state, message=message)

    def start(self, config: TrainConfig | None, resume: str | None = None, extra_epochs: int = 0,
              run_name: str | None = None) -> None:
        """A new run from ``config``, or ``resume`` (a run folder) continued, maybe for more epochs."""
        app = self.app
        if config is None and not app.controller.allowed("start"):
            app.notify("Stop the current run before resuming another.", severity="warning")
            return
        self._resuming = config is None  # its config covers the form, even from epoch 0 step 0
        if config is None:
            self.form_to_save = None  # a resumed run keeps its own config: the form is not remembered
            try:  # at once, not from its first event a second or more later (walk31 F11); that one corrects it
                saved = read_config(resume)
                self._cover_form(saved.replace(epochs=saved.epochs + extra_epochs), Path(resume).name)
            except (OSError, ValueError):  # unreadable: the run's process says so
                pass
        app.train_pane.clear_charts(config.epochs if config else None, "starting…")
        app.set_progress(message="Starting: loading PyTorch and MNIST…" if app.data is None else "Starting…",
                         best_val=None)
        app.controller.start(config, resume=resume, extra_epochs=extra_epochs, run_name=run_name)
        app.show_run_state()
        app.action_show_tab("train")

    def steer(self, factor: float) -> None:
        app = self.app
        if not app.controller.allowed("steer"):
            app.notify("No run is training: the learning rate of a run is steered while it trains.",
                       severity="warning")
            return
        before = app.controller.lr_factor
        total = app.controller.steer(factor)
        app.set_progress(lr_factor=total)  # at once: a paused run takes it only once resumed
        if total == before:  # at a limit: x1e-4, or the lr at the form's 10 (it read "x666.667 the schedule")
            config = app.controller.config
            limit = f"lr {config.lr * total:.3g} at most, ×{total:.4g}" if total > 1 and config else f"×{total:.4g}"
            app.notify_in_place("steer", f"The learning rate is at its limit: {limit} the schedule.", "warning")
        else:  # one toast, replaced by the next key's: the status line keeps the factor too
            app.notify_in_place("steer", f"Learning rate ×{total:.4g} the schedule from the next batch "
                                         f"(×{total / before:.3g} by this key).")

    def ask_stop(self, quitting: bool = False) -> None:
        """Confirm, then stop the run at the next batch (and quit once it has, if ``quitting``)."""
        app = self.app
        if not app.controller.allowed("stop"):
            app.notify("No run is in progress.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            self.stop_question = None
            if yes and app.controller.allowed("stop"):  # the run may have ended while the question was open
                self.quit_when_stopped = quitting
                app.controller.stop()
                app.show_run_state()

        paused = app.controller.state == RunState.PAUSED
        meanwhile = "It stays paused while you decide." if paused else "It trains on while you decide."
        keep = "Keep it paused" if paused else "Keep training"  # n leaves a paused run paused
        if quitting:
            dialog = ConfirmScreen("Quit while training?", "The run stops at the next batch, saves a resumable "
                                   f"last.pt, and then the app quits. {meanwhile}",
                                   yes="Stop and quit", no=keep)
        else:
            dialog = ConfirmScreen("Stop training?", "The run stops at the next batch and saves last.pt, which you "
                                   f"can resume later from Runs (r). {meanwhile}", yes="Stop", no=keep)
        self.stop_question = dialog
        app.push_screen(dialog, answered)

    def ended(self, serial: int) -> bool:
        """Run ``serial``'s child is gone: the app is idle again. False, and nothing changed, for a stopped run's
        child gone only after the next run started (it closed that run's "Stop training?")."""
        app = self.app
        if not app.controller.handle_end(serial):
            return False
        self.close_stop_question()
        busy_question_answered(app)  # "Tune while a run trains?" is moot: the study starts
        if app.query_one(ProgressLine).progress.state in ("starting", "running", "paused", "stopping"):
            app.set_progress(state="idle", message="Run ended.")
        app.show_run_state()
        return True

    def close_stop_question(self) -> None:
        """The run ended while "Stop training?" (or "Quit while training?") was open: the question is moot."""
        dialog, self.stop_question = self.stop_question, None
        if dialog is not None and self.app.screen is dialog:
            dialog.dismiss(None)

    # -- events ----------------------------------------------------------------------------

    def show(self, events: list[Event]) -> None:
        app = self.app
        points = [event for event in events if isinstance(event, StepMetrics)]
        pending: list[StepMetrics] = []  # the points before an event are drawn before it: an epoch's end
        phase = app.query_one(ProgressLine).progress.phase
        for event in events:  # redrew the chart, then its last half second of points came, after the redraw
            app.controller.handle(event)
            phase = phase_after(event, app.controller.config, phase)
            if isinstance(event, StepMetrics):
                pending.append(event)
                continue
            if pending:
                app.train_pane.add_points(pending)
                pending = []
            self._show_event(event)
        if pending:
            app.train_pane.add_points(pending)
        if points:
            last = points[-1]
            app.set_progress(epoch=last.epoch, step=last.step, global_step=last.global_step,
                             samples_per_s=last.samples_per_s, elapsed_s=last.elapsed_s)
        app.set_progress(phase=phase)

    def _show_event(self, event: Event) -> None:
        app = self.app
        if isinstance(event, (Stopped, Finished, Failed)):
            self._give_the_form_back()
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, EpochEnd):
            app.train_pane.epoch_end(event)
            app.set_progress(best_val=event.best_val_accuracy)
        elif isinstance(event, LrChanged):
            app.set_progress(lr_factor=event.factor,
                             message=f"learning rate ×{event.factor:.4g} from step {event.global_step}")
        elif isinstance(event, Stopped):
            self._stopped, self._said = event, event.run_dir
            app.train_pane.redraw()  # (as for a pause: its last second of points)
            app.set_progress(state="idle", message=_where_stopped(event))
            self._say_over_screens(_where_stopped(event))
            app.query_one(ResultsPane).note_stopped(Path(event.run_dir).name)
        elif isinstance(event, Finished):
            self._finished(event)
        elif isinstance(event, Failed):
            self._not_started()
            app.notify(event.reason, title="Training failed", severity="error", timeout=10)
            app.set_progress(state="failed", message=f"Failed: {within_folder(event.reason, app.checkpoints_dir)}")
            if event.run_dir:
                app.query_one(ResultsPane).note_training(Path(event.run_dir).name, ended="failed")
            self._said = event.run_dir
        elif isinstance(event, (Paused, Resumed)):
            app.train_pane.redraw()  # the points of the second before a pause: none come to draw them (walk42 D6)
            self._say_over_screens(f"{Path(app.controller.run_dir or '').name} is "
                                   + ("paused · f6 resumes" if isinstance(event, Paused) else "training again"))

    def _say_over_screens(self, text: str) -> None:
        """A toast for a change of the run's state while Draw, Compare or Tune covers the status line that says it."""
        if len(self.app.screen_stack) > 1:
            self.app.notify_in_place("run-state", text)

    def _started(self, event: RunStarted) -> None:
        app = self.app
        if self.form_to_save is not None:  # a config is remembered only once it has started
            if problem := save_form(app.settings_path, *self.form_to_save):
                app.notify(problem, severity="warning", timeout=8)
            self.form_to_save = None
            app.query_one(HParamForm).query_one("#field-run_name", Input).value = ""  # a name names one run
        run_dir = Path(event.run_dir)
        app.query_one(ResultsPane).note_training(run_dir.name)
        resumed = event.start_epoch or event.start_step
        history = read_metrics(run_dir)[:event.start_epoch] if resumed else []
        app.train_pane.run_started(event, read_points(run_dir) if resumed else [], history)
        self._charted = event.run_dir
        if self._resuming:  # the form shows the run's own config while it trains, then the user's again
            self._cover_form(TrainConfig.from_dict(event.config), run_dir.name)
        start_step = event.start_epoch * event.steps_per_epoch + event.start_step
        app.set_progress(state="running", epoch=min(event.start_epoch + 1, event.epochs), epochs=event.epochs,
                         step=event.start_step, steps_per_epoch=event.steps_per_epoch, global_step=start_step,
                         start_step=start_step, samples_per_s=0.0, elapsed_s=0.0, best_val=_best_val(history),
                         lr_factor=app.controller.lr_factor)

    def _finished(self, event: Finished) -> None:
        app = self.app
        if self._stopped and Path(self._stopped.run_dir).resolve() == Path(event.run_dir).resolve():
            self._stopped = None  # resumed and finished: nothing left to resume
        rate = app.query_one(ProgressLine).progress.samples_per_s
        source, test = f"{event.run_name} · last (epoch {event.epochs})", tested(event.test_accuracy, event.tta)
        bad = collapsed(event.test_accuracy)  # a collapsed network read as a plain "Finished" (walk36 F3)
        app.notify(f"{source}: test {test} · " + (COLLAPSED if bad else "f2 Results"), title="Finished",
                   severity="warning" if bad else "information", timeout=15 if bad else app.NOTIFICATION_TIMEOUT)
        if event.study_note:
            app.notify(event.study_note, title="Tuning", timeout=10)
        app.set_progress(state="idle", message=(
            f"Finished {source} · test {test}{', chance level' * bad} · best val "
            f"{percent(event.best_val_accuracy)} · {format_rate(rate)} · f2 Results · f3 Misclassified"))
        app.query_one(ResultsPane).show_saved(event.run_dir, app.dataset_cache, app.checkpoints_dir)
        self._said = event.run_dir

    def run_deleted(self, run_dir: str) -> None:
        """A run was deleted in Runs: the status line, the quit message and Train's charts stop pointing at it (the
        status kept saying "Finished RUN · f2 Results", and quitting printed how to resume a stopped run now gone)."""
        gone = Path(run_dir).resolve()
        if self._stopped is not None and Path(self._stopped.run_dir).resolve() == gone:
            self._stopped = None
        if self._said is not None and Path(self._said).resolve() == gone and not self.app.controller.active:
            self._said = None
            self.app.set_progress(state="idle", message=f"{gone.name} was deleted · f5 start · ctrl+p commands")
        if self._charted is not None and Path(self._charted).resolve() == gone and not self.app.controller.active:
            self._charted = None  # its curves stayed, under a title that names no run
            self.app.train_pane.clear_charts(None, f"{gone.name} was deleted")

    def run_loaded(self, path: Path) -> None:
        """``path`` is shown in Results: a status naming another run ("RUN was deleted", "Finished RUN · f2 Results"
        whose f2 now shows this one, walk31 F7, or another run's failure) stops standing over it (it stayed for
        minutes)."""
        line = self.app.query_one(ProgressLine).progress
        other = self._said is not None and Path(self._said).resolve() != Path(path).resolve()
        deleted = line.message.endswith(" was deleted · f5 start · ctrl+p commands")
        failed = line.state == "failed" and (other or self._said is None)  # a failure that named no run (walk33 F4)
        if failed or line.state == "idle" and (other or deleted):
            self._said = None
            self.app.set_progress(state="idle", message="Ready · f5 start · ctrl+p commands")
            self.app.say_ready()

    def _cover_form(self, config: TrainConfig, run_name: str) -> None:
        form = self.app.query_one(HParamForm)
        if self.form_draft is None:
            self.form_draft = form.draft()
            self.app.notify(f"The form shows {run_name}'s config while it trains; yours comes back when it ends.")
        form.set_config(config, None)

    def _give_the_form_back(self) -> None:
        """The user's form again, where a resumed run's config covered it while it trained."""
        if self.form_draft is not None:
            self.app.query_one(HParamForm).restore(self.form_draft)
            self.form_draft = None

    def crashed(self, reason: str, data_unavailable: bool) -> None:
        """The run could not start or its process died."""
        app = self.app
        self._give_the_form_back()
        self._not_started()
        if data_unavailable:
            self.data_missing(getattr(app.controller.config, "dataset", "mnist"), reason)
            return
        app.notify(reason, title="Training failed", severity="error", timeout=10)
        app.set_progress(state="failed", message=f"Failed: {within_folder(reason, app.checkpoints_dir)}")

    def _not_started(self) -> None:
        """A run that failed before it started: its form is not remembered, the charts show what they showed."""
        self.form_to_save = None
        if self.app.controller.run_dir is None:  # set by the run's RunStarted: a run that began keeps its curves
            self.app.train_pane.restore_charts()


def _where_stopped(event: Stopped) -> str:
    return f"Stopped {Path(event.run_dir).name} {event.place} · saved {event.checkpoint} · resume from Runs (r)"


def _best_val(history: list[dict]) -> float | None:
    """The best validation accuracy of the epochs a resumed run already has (None for a new run)."""
    values = [m["val_accuracy"] for m in history if isinstance(m.get("val_accuracy"), (int, float))]
    return max(values, default=None)


__all__ = ["RunView"]
