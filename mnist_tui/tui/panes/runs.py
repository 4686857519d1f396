"""The Runs view: saved runs in the checkpoints folder; load, resume or delete one, mark some to compare.

The pane owns what its keys do: deleting, comparing, sorting, filtering and showing a
config happen here; loading, resuming, drawing and filling the form are posted as
requests, since the app owns evaluation, the run controller and the form.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from ...core.config import TrainConfig
from ...core.runs import CHECKPOINT_FILES, RunInfo, exports_dropped, list_runs, no_checkpoint_why, read_config
from ..messages import RunsListed
from .run_questions import delete_question, form_note, more_epochs_question
from ..widgets.fit import Part, fit_parts
from ..widgets.dialogs import ConfirmScreen, NumberScreen
from ..widgets.runs_table import COLUMNS, RunsTable, header_parts, marked_part, matches, sorted_runs

OTHERS_POLL_S = 2.0  # how often the list is read again while another process trains one of its runs


class RunsPane(Vertical):
    BINDINGS = [
        Binding("l", "load", "Load", tooltip="Load the run (or ⏎)"),
        Binding("r", "resume_run", "Resume"),  # (named as the app's f6 resume, the footer showed one of the two)
        Binding("d", "delete", "Del", tooltip="Delete the run"),
        Binding("m,space", "toggle_mark", "Mark", key_display="m"),
        Binding("c", "compare", "Cmp", tooltip="Compare marked runs"),
        Binding("w", "draw", "Draw"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("slash", "filter", "Find", key_display="/"),
        Binding("i", "show_config", "Cfg", tooltip="Show its config"),
        Binding("f", "config_to_form", "Form", tooltip="Config to the form"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        # priority: the table's own home/end scroll sideways and would take the keys first
        Binding("home", "first", "First", show=False, priority=True),
        Binding("end", "last", "Last", show=False, priority=True),
        Binding("ctrl+r", "refresh", "Refresh", show=False),  # the list also refreshes when shown
    ]

    class RunMessage(Message):
        def __init__(self, run: RunInfo) -> None:
            super().__init__()
            self.run = run

    class LoadRequested(RunMessage):
        """Show this run's test results in Results and Misclassified."""

    class ResumeRequested(Message):
        """Continue this run (``extra_epochs`` > 0: train a finished run that many more epochs)."""

        def __init__(self, run: RunInfo, extra_epochs: int = 0) -> None:
            super().__init__()
            self.run, self.extra_epochs = run, extra_epochs

    class Deleted(RunMessage):
        """This run's folder is gone (d): what shows its results shows them no more."""

    class DrawRequested(RunMessage):
        """Open Draw with this run's model."""

    class ConfigRequested(Message):
        """Fill the Train form with this run's config (to train a new run like it)."""

        def __init__(self, config: TrainConfig, name: str, note: str = "") -> None:
            super().__init__()
            self.config, self.name, self.note = config, name, note  # note: what the form holds of it, if not all

    def __init__(self, checkpoints_dir: Path) -> None:
        super().__init__(id="runs-pane")
        self.checkpoints_dir = checkpoints_dir
        self.all_runs: list[RunInfo] = []  # as listed
        self.runs: list[RunInfo] = []  # as shown: filtered and sorted, in the table's order
        self.marked: set[str] = set()  # paths of the runs marked for comparison
        self.folder = ""
        self.training: str | None = None  # the path of the run being trained here, if any
        self.training_word = "training"  # its state cell: "paused" while it is
        self._own: set[str] = set()  # the runs this app has trained
        self.sort_column, self.sort_descending = "date", True
        self.filter_text = ""
        self._parts: list[Part] = [("", "Reading the checkpoints folder…", 9)]
        self._listed_stamp: tuple[tuple[str, int], ...] | None = None  # _folder_stamp() at the last listing

    def compose(self) -> ComposeResult:
        yield Static("Reading the checkpoints folder…", id="runs-status")
        yield Input(placeholder="show runs whose name, model or state holds… (enter keeps, esc clears)",
                    id="runs-filter", compact=True)
        yield RunsTable(id="runs-table", cursor_type="row", zebra_stripes=True, fixed_columns=1)

    def on_mount(self) -> None:
        self.query_one(RunsTable).show_runs([], self.sort_column, self.sort_descending, self.marked, self.training,
                                             self.training_word)
        self.set_interval(OTHERS_POLL_S, self._relist_if_the_folder_changed)

    def show_training(self, path: str | None, word: str) -> None:
        """The run this app trains (None: none) and its state cell, "training" or "paused" (it read "training"
        while paused). Until the next listing, a run that ended here reads "training", not "paused" as listed."""
        self._own |= {path} - {None}  # (its row gets the cursor when it first shows)
        if (path, word) != (self.training, self.training_word):
            self.all_runs = [replace(r, state="training") if r.path == self.training != path and r.state == "paused"
                             else r for r in self.all_runs]
            self.training, self.training_word = path, word
            if self.is_mounted:
                self._fill()

    def _folder_stamp(self) -> tuple[tuple[str, int], ...] | None:
        """The run folders and their mtimes: a run made, removed or saved (trained elsewhere) changes it."""
        try:
            with os.scandir(self.checkpoints_dir) as entries:
                return tuple(sorted((e.name, e.stat().st_mtime_ns) for e in entries if e.is_dir()))
        except OSError:
            return None

    def _relist_if_the_folder_changed(self) -> None:
        """A run another process starts or trains again shows while this view is up (it stayed unlisted until
        ctrl+r): a stat of each run folder every 2 s, in a thread, only while the view is shown."""
        if self.is_on_screen:
            self._check_the_folder()

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-poll", name="check runs folder")
    def _check_the_folder(self) -> None:
        if self._listed_stamp != self._folder_stamp():
            self.app.call_from_thread(self.refresh_runs)

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs", name="list runs")
    def refresh_runs(self) -> None:
        """Read the checkpoints folder in a worker (torch-free, but a folder of many runs takes a while)."""
        try:
            self._listed_stamp = self._folder_stamp()  # before listing: a change meanwhile is seen next time
            self.post_message(RunsListed(list_runs(self.checkpoints_dir)))
        except Exception as exc:  # noqa: BLE001 - shown, the view stays up
            self.app.call_from_thread(self.notify, f"could not list {self.checkpoints_dir}: {exc}", severity="error")

    def on_runs_listed(self, message: RunsListed) -> None:
        message.stop()
        self.set_runs(message.runs, str(self.checkpoints_dir))

    def set_runs(self, runs: list[RunInfo], folder: str) -> None:
        known = {run.path for run in self.all_runs}
        # a run this app trained that appeared since the last listing gets the cursor; one another process made
        # (the CLI, a Tune worker) took it too, off the run picked (walk41 F3)
        fresh = [run for run in runs if run.path not in known and run.path in self._own]
        self.all_runs, self.folder = list(runs), folder
        self.marked &= {run.path for run in runs}
        self._fill(max(fresh, key=lambda r: r.modified).path if fresh and known else None)
        if any(run.state in ("training", "paused") and run.path != self.training for run in runs):
            self.set_timer(OTHERS_POLL_S, self._relist_while_shown)

    def _relist_while_shown(self) -> None:
        """Another process trains a listed run: its row follows it while shown (it read "training" until ctrl+r)."""
        if self.is_on_screen:
            self.refresh_runs()

    def _fill(self, select: str | None = None) -> None:
        """The table from the listed runs, filtered and sorted; the cursor stays on its run (or goes to ``select``)."""
        table = self.query_one(RunsTable)
        previous = self.selected
        select = select or (previous.path if previous is not None else None)
        runs = sorted_runs([r for r in self.all_runs if matches(r, self.filter_text)], self.sort_column,
                           self.sort_descending)
        self.runs = runs
        table.show_runs(runs, self.sort_column, self.sort_descending, self.marked, self.training, self.training_word)
        self._parts = header_parts(len(self.all_runs), runs, self.folder, self.filter_text, self.sort_column,
                                   self.sort_descending)
        self._show_status()
        if select is not None and select in (paths := [r.path for r in runs]):
            table.move_cursor(row=paths.index(select))

    def _show_status(self) -> None:
        parts = [*self._parts, *marked_part(self.marked, self.runs)]
        status = self.query_one("#runs-status", Static)
        folder = 1 if len(parts) > 1 and parts[1][0] == " in " else None  # the folder's path, cut in its middle
        status.update(fit_parts(parts, status.size.width or self.size.width or 1000, elide=folder))

    def on_resize(self) -> None:
        table = self.query_one(RunsTable)  # the names are cut again for a new width (they kept the old one)
        self._fill() if table.name_width not in (None, table.name_room()) else self._show_status()

    @property
    def marked_runs(self) -> list[RunInfo]:
        """The marked runs, in the table's order (then any a filter hides)."""
        hidden = [run for run in self.all_runs if run not in self.runs]
        return [run for run in self.runs + hidden if run.path in self.marked]

    @property
    def selected(self) -> RunInfo | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    def _usable(self) -> RunInfo | None:
        run = self.selected
        if run is None and self.all_runs:  # the filter hides them all
            self.notify(f"No run holds “{self.filter_text}” (esc clears the filter).", severity="warning")
        elif run is None:
            self.notify("No run selected: train one first (f5).", severity="warning")
        elif run.error:  # one toast, whatever key asked (w, r, i stacked three over the list)
            self.app.notify_in_place("unreadable", f"{run.name} cannot be read: {run.error}", "error")
            return None
        return run

    def _saved(self) -> RunInfo | None:
        """The selected run if it holds a model: one that diverged before its first save has none, and l, w and
        r led to dead ends (l wiped the results shown, r said "training" then failed: walk34 F3, F4); nor has a
        live run before its first save (l said "Evaluation failed: .../last.pt: no such checkpoint file")."""
        run = self._usable()
        if run is None or any((Path(run.path) / name).is_file() for name in CHECKPOINT_FILES):
            return run
        live = run.state in ("training", "paused")  # its first save is to come (walk39 F3)
        self.app.notify_in_place("unreadable", f"{run.name} has no checkpoint yet: it saves one at the end of its "
                                 "first epoch" if live else f"{run.name}: {no_checkpoint_why(Path(run.path))}, so "
                                 "there is no model to load, draw or resume (f puts its config in the form)", "warning")
        return None

    # -- keys ---------------------------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        run = self.selected
        if run is None:
            return
        self.marked ^= {run.path}
        self.query_one(RunsTable).show_mark(run, run.path in self.marked)
        self._show_status()

    def action_first(self, last: bool = False) -> None:
        field = self.query_one("#runs-filter", Input)
        if field.has_focus:  # in the filter's text, home and end move in the text
            field.action_end() if last else field.action_home()
        else:
            self.query_one(DataTable).move_cursor(row=max(len(self.runs) - 1, 0) if last else 0)

    def action_last(self) -> None:
        self.action_first(last=True)

    def action_refresh(self) -> None:
        self.refresh_runs()

    def action_load(self) -> None:
        if (run := self._saved()) is not None:
            self.post_message(self.LoadRequested(run))

    def action_draw(self) -> None:
        if (run := self._saved()) is not None:
            self.post_message(self.DrawRequested(run))

    def action_resume_run(self) -> None:
        from ...core.run_lock import NotWritable, check_writable

        if self.training and (run := self.selected) is not None and Path(run.path) == Path(self.training):
            self.notify(f"That run is {self.training_word} in this app" + (": f6 resumes it." if self.training_word ==
                        "paused" else "."), severity="warning")  # it said "... before resuming another" (walk39 F6)
            return
        run = self._saved()
        if run is None:
            return
        try:  # before "Train more epochs?" is asked for nothing
            check_writable(self.checkpoints_dir, Path(run.path))
        except NotWritable as exc:
            self.notify(str(exc), title="Cannot resume", severity="error", timeout=10)
            return
        dropped = exports_dropped(run.path)  # (they went without a word, walk31 F2)
        if not run.finished:
            if dropped:
                self.notify(dropped, title="Exported files", severity="warning", timeout=15)
            self.post_message(self.ResumeRequested(run))
            return
        self.app.push_screen(NumberScreen("Train more epochs?", more_epochs_question(run, dropped), default=run.epochs),
                             lambda epochs: self.post_message(self.ResumeRequested(run, epochs)) if epochs else None)

    def action_compare(self) -> None:
        runs = [run for run in self.marked_runs if not run.error]
        if len(runs) < 2:
            if unreadable := [run.name for run in self.marked_runs if run.error]:
                names = ", ".join(unreadable[:-1]) + " and " + unreadable[-1] if len(unreadable) > 1 else unreadable[0]
                self.notify(f"{names} cannot be read, so cannot be compared: mark two or more readable runs.",
                            severity="warning")
            else:
                self.notify("Mark two or more runs with m (or space), then press c.", severity="warning")
            return
        from ..screens.compare import CompareScreen

        self.app.push_screen(CompareScreen([run.path for run in runs]))

    def action_delete(self) -> None:
        run = self.selected
        if run is None:
            self.notify("No run selected.", severity="warning")
            return
        if self.training and Path(self.training) == Path(run.path):
            self.notify("That run is training; stop it first.", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            from ...core.runs import CheckpointError, delete_run

            try:
                delete_run(run.path, Path(self.folder))
            except (OSError, CheckpointError) as exc:
                self.notify(f"Could not delete {run.path}: {exc}", severity="error")
            else:
                self.notify(f"Deleted {run.name}.")
                self.post_message(self.Deleted(run))
            self.refresh_runs()

        self.app.push_screen(ConfirmScreen("Delete run?", delete_question(run), yes="Delete", no="Keep"), answered)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_load()

    # -- order, filter, config ------------------------------------------------------------------

    def action_sort(self) -> None:
        """The next column, in its natural direction (best, newest, largest first; names A-Z)."""
        keys = [key for key, _, _, _ in COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.sort_descending = next(desc for key, _, _, desc in COLUMNS if key == self.sort_column)
        self._fill()
        self.query_one(RunsTable).reveal_column(self.sort_column)  # its arrow says the order: in view (walk37 F5)

    def action_reverse_sort(self) -> None:
        self.sort_descending = not self.sort_descending
        self._fill()
        self.query_one(RunsTable).reveal_column(self.sort_column)

    def action_filter(self) -> None:
        field = self.query_one("#runs-filter", Input)
        field.display = True
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "runs-filter":
            event.stop()
            self.filter_text = event.value
            self._fill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "runs-filter":
            event.stop()
            event.input.display = bool(self.filter_text)
            self.query_one(DataTable).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#runs-filter", Input)
        if not self.filter_text and not field.display:
            return
        field.value = ""  # Input.Changed refills the table
        self.filter_text = ""
        field.display = False
        self.query_one(DataTable).focus()
        self._fill()

    def _config_of(self, run: RunInfo) -> TrainConfig | None:
        try:
            return read_config(run.path)
        except Exception as exc:  # noqa: BLE001 - a broken config.json is reported, not raised
            self.notify(f"{run.name}: cannot read its config: {exc}", severity="error")
            return None

    def action_show_config(self) -> None:
        run = self._usable()
        config = self._config_of(run) if run is not None else None
        if run is None or config is None:
            return
        from ..screens.run_config import RunConfigScreen

        def answered(to_form: bool | None) -> None:
            if to_form:
                self._request_config(run, config)

        self.app.push_screen(RunConfigScreen(run.name, config, run.schedules), answered)

    def action_config_to_form(self) -> None:
        run = self._usable()
        config = self._config_of(run) if run is not None else None
        if run is not None and config is not None:
            self._request_config(run, config)

    def _request_config(self, run: RunInfo, config: TrainConfig) -> None:
        if self.training is not None:
            self.notify("A run is training: the form keeps its config until it ends.", severity="warning")
            return
        first, note = form_note(run)
        self.post_message(self.ConfigRequested(config.replace(epochs=first or config.epochs), run.name, note))
