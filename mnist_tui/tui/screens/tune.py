"""The Tune screen: run ``mnist-tui tune --json`` as a subprocess and watch its trials, or attach to a study.

The search runs in its own process (``mnist-tui tune ... --json``, a :class:`~mnist_tui.core.cli_child.CliChild`),
whose trials train in a worker child, so the app stays responsive; a thread worker reads its JSON lines and posts
them as messages. Another polls the storage (Optuna, imported there) so trials from other machines feeding the
same study show too, and computes parameter importances. Nothing here imports torch. f8 (or the palette) switches
the lower area between the trials table, the history charts and the importances.

The app (tui/views.py) opens it and takes :class:`TuneScreen.UseBest` and :class:`TuneScreen.OpenRun`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, DataTable, Input, Static

from ...core.cli_child import CliChild
from ...core.config import TrainConfig
from ...core.storage_url import default_storage
from ...core.tune_space import DEFAULT_SPACES, MACHINE_FIELDS, apply, config_flags, default_study, preset_for
from ..keys import QUIT_NOT_SHOWN, main_view_keys
from .tune_questions import LeaveQuestions, unless_busy
from ..widgets.footer import FittingFooter
from ..widgets.tune_charts import EpochChart, HistoryChart, ImportanceBars, TuneChart, ViewSwitch
from ..widgets.tune_form import TuneForm, progress_status, with_start_note
from ..widgets.tune_records import (Importances, TrialRecords, TrialTable, best_trial, in_view_words, merge_records,
                                    outcome_text, params_text, poll_error_text, row_from_event, start_hint,
                                    watch_storage)

POLL_SECONDS = 3.0
VIEWS = {"tune-table": "Trials", "tune-history": "History", "tune-importance": "Importance"}


class TuneScreen(LeaveQuestions, Screen):
    """Pick a search space, start a study (or attach to one), watch the trials, use the best."""

    DEFAULT_CSS = """
    TuneScreen { layout: vertical; }
    TuneScreen #tune-buttons { height: 1; margin: 1 1 0 0; }
    TuneScreen Button { min-width: 10; margin: 0 1 0 1; }
    TuneScreen #tune-view { width: 1fr; content-align: right middle; }
    TuneScreen #tune-status { height: auto; min-height: 2; max-height: 5; padding: 0 1; }
    TuneScreen #tune-status.error { color: $error; }
    TuneScreen #tune-lower { height: 1fr; }
    TuneScreen DataTable, TuneScreen #tune-history { height: 1fr; }
    """

    BINDINGS = [
        QUIT_NOT_SHOWN, *main_view_keys("f10", "ctrl+l"),
        Binding("escape", "close", "Back"),
        Binding("ctrl+s", "start", "Start"),
        Binding("ctrl+t", "stop", "Stop"),  # not ctrl+x: a focused Input takes that for cut
        Binding("ctrl+t", "app.notify('Stop stops a study started here (ctrl+s); one attached to stops where it runs "
                "(ctrl+c there)')", "Stop", show=False),  # none running here (said nothing, walk30 F9; walk37 F2)
        Binding("ctrl+b", "use_best", "Use best"),
        Binding("f8", "next_view", "View"),
    ]

    class UseBest(Message):
        """The best trial's config, for the Train form."""

        def __init__(self, config: TrainConfig, run_dir: str | None, value: float) -> None:
            super().__init__()
            self.config, self.run_dir, self.value = config, run_dir, value

    class OpenRun(Message):
        """Enter on a trial: open its run folder (Results, Misclassified...)."""

        def __init__(self, run_dir: str) -> None:
            super().__init__()
            self.run_dir = run_dir

    def __init__(self, base: TrainConfig, *, checkpoints_dir: str | Path, data_dir: str | Path | None = None,
                 preset: str = "fast", study: str | None = None, storage: str | None = None,
                 poll_seconds: float = POLL_SECONDS, memory: dict[str, str] | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.memory, self.base = memory, base  # memory: the fields as last typed, kept by the app between visits
        self.preset = preset_for(base, preset)  # names the study and its best trial's train command
        self.checkpoints_dir, self.data_dir = Path(checkpoints_dir), data_dir
        self.default_storage = default_storage(self.checkpoints_dir)
        self.space = DEFAULT_SPACES[preset_for(base)]  # the search it opens with
        # as the CLI names it for the search shown: the searched fields' values do not count
        self.initial_study = study or (lambda searched: default_study(base, self.preset, searched))
        self.initial_storage, self.poll_seconds = storage or "", poll_seconds
        self.trials: dict[int, dict[str, Any]] = {}
        self.child: CliChild | None = None  # the study's ``tune`` process, once started
        self.tune_worker = self.poll_worker = None
        self._poll_stop, self.first_poll_applied = threading.Event(), threading.Event()
        self.first_look = threading.Event()  # the study the view opened on was read: the keys went where it says
        self._quit_when_stopped = False  # ctrl+q answered yes: the app quits once the study has ended
        self._quiet = False  # watching the study the view opened on: "waiting for study" is not said
        self._watched = self._outcome_of = None  # (storage, study) read (the fields' values then); whose end is said
        self._lost_since: str | None = None  # the watched study's storage could not be read from then (HH:MM:SS)

    def compose(self) -> ComposeResult:
        yield TuneForm(self.base, list(self.space), self.initial_study, self.initial_storage, self.default_storage,
                       memory=self.memory)
        with Horizontal(id="tune-buttons"):
            yield Button("Start", id="tune-start", variant="primary", compact=True)
            yield Button("Stop", id="tune-stop", disabled=True, compact=True)
            yield Button("Attach", id="tune-attach", compact=True, tooltip="watch the study's trials, other machines' too")
            yield Button("Use best", id="tune-best", disabled=True, compact=True)
            yield ViewSwitch(VIEWS, id="tune-view")
        yield Static("", id="tune-status")
        with ContentSwitcher(initial="tune-table", id="tune-lower"):
            yield TrialTable(id="tune-table")
            with Horizontal(id="tune-history"):
                yield HistoryChart(id="tune-history-chart")
                yield EpochChart(id="tune-epoch-chart")
            yield ImportanceBars(id="tune-importance")
        yield FittingFooter()

    # -- the lower area: trials, history charts, importances -----------------------------

    @property
    def view(self) -> str:
        return self.query_one(ContentSwitcher).current or "tune-table"

    def show_view(self, view: str) -> None:
        """Show the trials table, the history charts or the importances in the lower area."""
        self.query_one(ContentSwitcher).current = view
        self.query_one(ViewSwitch).show(view)
        if view == "tune-table":
            self.query_one("#tune-table", DataTable).focus()
        self._redraw_charts()

    def action_next_view(self) -> None:
        self.show_view((views := list(VIEWS))[(views.index(self.view) + 1) % len(views)])

    def system_commands(self):
        """The view's palette entries (the app adds them while this screen is on top)."""
        for key, name in VIEWS.items():
            yield SystemCommand(f"Tune: show {name.lower()}", f"The lower area shows the {name.lower()} (f8 cycles)",
                                lambda key=key: self.show_view(key))
        if self.check_action("start", ()):
            yield SystemCommand("Tune: start the study", "Run the trials in the background (ctrl+s)", self.action_start)
        if self.running:
            yield SystemCommand("Tune: stop the study", "Running trials save and stop (ctrl+t)", self.action_stop)
        yield SystemCommand("Tune: attach to the study", "Watch the study's trials in its storage, other machines' "
                            "too", self.action_attach)
        if self.best() is not None:
            yield SystemCommand("Tune: use the best trial", "Fill the Train form with it (ctrl+b)",
                                self.action_use_best)

    def _redraw_charts(self) -> None:
        if self.view == "tune-history":
            for chart in self.query(TuneChart):
                chart.replot()

    # -- inputs ---------------------------------------------------------------------------

    @property
    def form(self) -> TuneForm:
        return self.query_one(TuneForm)

    def study_name(self) -> str:
        return self.form.study_name()

    def on_mount(self) -> None:
        search = self.query_one("#tune-search", Input)
        search.cursor_position = 0  # the start of the spec shows at 80 columns
        self._revalidate()
        self.show_view("tune-table")
        self.query_one(ImportanceBars).show_importances(None, 0)
        search.focus()  # then the trials, once read, if any (walk29 F8, walk37 F1); typed in meanwhile, it stays
        self._opened_search = search.value
        if self.form.storage_exists():  # the study in the fields comes back as it was left (or as others fed it)
            self.action_attach()
            self._quiet = True
        else:
            self.first_look.set()

    @on(Input.Changed)
    def _revalidate(self, event: Input.Changed | None = None) -> None:
        if event is not None and event.input.id in ("tune-study", "tune-storage") and not self.running \
                and self._watched != (self.form.storage_url(), self.study_name()):  # (not the fields' first values)
            self._forget_study()  # first: the new name's first key said the last study's counts (walk41 F2)
        error = self.form.validation_error()
        status = self.query_one("#tune-status", Static)
        status.set_class(error is not None and not self.trials, "error")
        status.set_class(False, "failed")
        if self.trials:  # the study's counts stay (they gave way to "ctrl+s starts it" over its listed trials)
            self._show_progress(status, error)
        elif error is not None:
            status.update(error)
        else:  # it opened on a blank line: say what comes next
            status.update("" if self.running else start_hint(self.study_name(), self.base))
        self.query_one("#tune-start", Button).disabled = error is not None or self.running

    def _forget_study(self) -> None:
        """The fields name another study: the trials shown were the last one's (Attach or Start shows it)."""
        self._poll_stop.set()
        self._watched = None
        self.trials.clear()
        self.form.study_base = None
        self.query_one(ImportanceBars).show_importances(None, 0)
        self._redraw()

    @property
    def running(self) -> bool:
        return self.child is not None and self.child.running

    @property
    def _stopping(self) -> bool:
        return self.running and self.child.interrupted  # Stop was pressed and the study has not ended yet

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            return not self.running and not self._quit_when_stopped and self.form.validation_error() is None
        return self.running if action == "stop" else True  # use_best too: without a complete trial it says so

    # -- running a study ----------------------------------------------------------------

    def args(self) -> list[str]:
        """The ``mnist-tui tune ... --json`` arguments the Start button runs."""
        data = ["--data-dir", str(self.data_dir)] if self.data_dir else []
        return ["tune", "--json", "--checkpoints", str(self.checkpoints_dir), *data,
                *config_flags(self.form.tuned, self.preset), *self.form.tune_flags()]

    @on(Button.Pressed, "#tune-start")
    def action_start(self) -> None:
        if self.running or self.form.validation_error() is not None:
            return
        unless_busy(self.app, self._launch)

    def _launch(self) -> None:
        if self.running:
            return
        status = self.query_one("#tune-status", Static)
        try:
            self.child = CliChild(self.args(), ready_event="tune_started")
        except OSError as exc:
            status.set_class(True, "error")
            status.update(f"cannot start the study: {exc}")
            return
        status.update(f"study {self.study_name()} in {self.form.storage_url()}: starting")
        self._set_running(True)
        self.tune_worker = self._read_tune_output(self.child)
        self.action_attach()  # other machines' trials, and ours while they train

    @on(Button.Pressed, "#tune-stop")
    def action_stop(self) -> None:
        """Like Ctrl+C on the CLI: the running trials stop, save and are marked failed (interrupted)."""
        if self.running and self.child.interrupt():  # once, and once the CLI takes SIGINT (an early one kills it)
            self.query_one("#tune-status", Static).update("stopping: the running trials save and end")

    @on(Button.Pressed, "#tune-attach")
    @on(Input.Submitted, "#tune-study, #tune-storage")  # enter there did nothing
    def action_attach(self) -> None:
        self._quiet = False
        self._poll_stop.set()  # a previous poller (another study) ends
        self._poll_stop = threading.Event()
        self._watched = (self.form.storage_url(), self.study_name())  # the fields' first values named it too
        self.poll_worker = self._poll_storage(self.form.storage_url(), self.study_name(), self._poll_stop)

    def _set_running(self, running: bool) -> None:
        self.query_one("#tune-stop", Button).disabled = not running
        self.query_one("#tune-start", Button).disabled = running or self.form.validation_error() is not None
        self.refresh_bindings()

    @work(thread=True, exclusive=True, group="tune", exit_on_error=False)
    def _read_tune_output(self, child: CliChild) -> int:
        for record in child.records():
            if record.get("event") == "note":  # (joining a study that searched other fields)
                self.post_message(TrialRecords([], "tune", finished=record))
            elif record.get("event") in ("trial_started", "trial_epoch", "trial_progress", "trial_ended"):
                self.post_message(TrialRecords([row_from_event(record)], "tune"))
        code = child.wait()
        self.post_message(TrialRecords([], "tune", finished={"event": "exited", "code": code, "child": child}))
        return code

    @work(thread=True, group="poll", exit_on_error=False)
    def _poll_storage(self, storage: str, study: str, stop: threading.Event) -> None:
        watch_storage(storage, study, stop, self.poll_seconds, self.post_message)

    def on_trial_records(self, message: TrialRecords) -> None:
        if (message.finished or {}).get("child", self.child) is not self.child:
            return  # a study's end read after Start began another: it ended the new one's state
        merge_records(self.trials, message.records)
        if message.base is not None and message.base != self.form.study_base:  # Start refuses another config's
            self.form.study_base = message.base
            self._set_running(self.running)  # (Start and Stop as they are, Start off for another config)
        status = self.query_one("#tune-status", Static)
        finished = message.finished or {}
        if message.source == "poll" and not self.first_look.is_set():
            search = self.query_one("#tune-search", Input)
            if self.trials and self.focused is search and search.value == self._opened_search:
                self.query_one("#tune-table", DataTable).focus()
            self.first_look.set()
        if finished.get("event") == "note":
            self.notify(in_view_words(finished["message"]), title="Joining the study", severity="warning", timeout=20)
        elif finished.get("event") == "exited":
            self._set_running(False)
            self._outcome_of = self._watched  # said over its counts; another study attached to shows its own
            text, failed = outcome_text(self.study_name(), self.trials, finished["code"], self.child.message,
                                        status.size.width or None)
            status.set_class(failed, "error", "failed")
            status.update(f"{text} · quitting" if self._quit_when_stopped else text if failed else with_start_note(
                text, self.trials, status.content_size.width, None, self.form.trials(), False, self.form.space_specs()))
            if self._quit_when_stopped:
                self._poll_stop.set()  # the app's exit waits for its thread
                self.app.exit(message=text)
                return
            if self.poll_worker is not None:
                self._poll_stop.set()
                self.action_attach()  # one last look at the storage, then keep watching
            self._study_ended()
        elif finished.get("event") == "poll_error" and self.trials and self.child is None:  # read before: lost
            self._lost_since = self._lost_since or time.strftime("%H:%M:%S")
            status.update(poll_error_text(self.study_name(), finished, self._lost_since))
        elif finished.get("event") == "poll_error" and not self.trials and not self._stopping and not self._quiet \
                and not status.has_class("error"):  # (tune's own failure, said once it exited, stays)
            status.set_class(finished.get("fatal", False), "error")
            status.update(poll_error_text(self.study_name(), finished))
        elif not finished and self.trials and (self.running or self._watched != self._outcome_of) \
                and not self._stopping and not status.has_class("failed"):  # counts while it runs (or attached)
            self._show_progress(status, self.form.validation_error())
        if message.source == "poll" and not finished:
            self.first_poll_applied.set()
            self._lost_since = None
        self._redraw()

    def _show_progress(self, status: Static, error: str | None) -> None:
        status.set_class(False, "error")
        status.update(progress_status(self.study_name(), self.trials, (status.size.width or None,
                                      status.content_size.width), error, self.form.trials(), self.running,
                                      self.form.space_specs()))

    # -- the table and the best trial ------------------------------------------------------

    def best(self) -> dict[str, Any] | None:
        return best_trial(self.trials)

    def _redraw(self) -> None:
        best = self.best()
        self.query_one(TrialTable).show_trials(self.trials, best, self.form.study_base)
        self.query_one("#tune-best", Button).disabled = best is None
        self.refresh_bindings()
        epochs = max([self.base.epochs, *(int(e) for t in self.trials.values() for e in t.get("curve") or {})])
        for chart in self.query(TuneChart):
            chart.set_trials(self.trials, epochs)
        self._redraw_charts()

    def on_importances(self, message: Importances) -> None:
        self.query_one(ImportanceBars).show_importances(message.importances, message.complete, message.seconds,
                                                        message.error)

    @on(Button.Pressed, "#tune-best")
    def action_use_best(self) -> None:
        best = self.best()
        if best is None:
            self.notify("No finished trial yet: Use best needs a complete trial.", severity="warning")
            return
        # over the fields the study fixed (the form's may differ: walk30 F1), on this machine's device and threads
        base = self.base if self.form.study_base is None else self.form.study_base.replace(
            **{name: getattr(self.base, name) for name in MACHINE_FIELDS})
        config = apply(base, best.get("params") or {})

        def send() -> None:
            self.post_message(self.UseBest(config, best.get("run_dir"), best["value"]))
            self.query_one("#tune-status", Static).update(f"best trial {best['number']} ({best['value']:.2%}) sent "
                                                          f"to the Train form: {params_text(best['params'])}")
        self._leave(send)

    @on(DataTable.RowSelected, "#tune-table")
    def _open_trial(self, event: DataTable.RowSelected) -> None:
        trial = self.trials.get(int(event.row_key.value))
        if not (trial and trial.get("run_dir")):
            return
        if trial.get("state") != "running" and not Path(trial["run_dir"]).is_dir():  # (empty views, walk31 F1)
            self.notify(f"{trial['run_dir']} is not here: deleted, or trained on another machine", severity="warning",
                        title=f"Trial {trial['number']}'s run")
            return
        if self.running and trial.get("state") == "running":  # its run is whole once the study has stopped
            self._leave_once_stopped(lambda: self.post_message(self.OpenRun(trial["run_dir"])),
                                     f"trial {trial['number']}'s run opens")
        else:
            self._leave(lambda: self.post_message(self.OpenRun(trial["run_dir"])))

    def action_close(self) -> None:
        self._leave(self.app.pop_screen)

    def on_unmount(self) -> None:
        self._poll_stop.set()
        if self.running:  # leaving the screen stops the search cleanly (trials saved, marked interrupted)
            self.child.interrupt(at_once=True)


__all__ = ["TuneScreen"]
