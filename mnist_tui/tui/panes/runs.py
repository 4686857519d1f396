"""The Runs view: saved runs in the checkpoints folder; load, resume or delete one, mark some to compare.

The pane owns what its keys do: deleting and comparing happen here; loading, resuming
and drawing are posted as requests, since the app owns evaluation and the run controller.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from ...core.runs import RunInfo
from ..widgets.dialogs import ConfirmScreen, NumberScreen
from ..widgets.progress import format_duration, percent


class RunsPane(Vertical):
    BINDINGS = [
        Binding("l", "load", "Load"),
        Binding("r", "resume", "Resume"),
        Binding("d", "delete", "Delete"),
        Binding("m,space", "toggle_mark", "Mark", key_display="m"),
        Binding("c", "compare", "Compare"),
        Binding("w", "draw", "Draw"),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("ctrl+r", "refresh", "Refresh", show=False),  # the list also refreshes when shown
    ]

    class LoadRequested(Message):
        """Show this run's test results in Results and Misclassified."""

        def __init__(self, run: RunInfo) -> None:
            super().__init__()
            self.run = run

    class ResumeRequested(Message):
        """Continue this run (``extra_epochs`` > 0: train a finished run that many more epochs)."""

        def __init__(self, run: RunInfo, extra_epochs: int = 0) -> None:
            super().__init__()
            self.run, self.extra_epochs = run, extra_epochs

    class DrawRequested(Message):
        def __init__(self, run: RunInfo) -> None:
            super().__init__()
            self.run = run

    class RefreshRequested(Message):
        """Read the checkpoints folder again."""

    def __init__(self) -> None:
        super().__init__(id="runs-pane")
        self.runs: list[RunInfo] = []
        self.marked: set[str] = set()  # paths of the runs marked for comparison
        self.folder = ""
        self.training: str | None = None  # the path of the run being trained here, if any
        self._status = ""

    def compose(self) -> ComposeResult:
        yield Static("Reading the checkpoints folder…", id="runs-status")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in (("run", "name"), ("state", "state"), ("model", "model"), ("epochs", "epochs"),
                           ("best val", "val"), ("test", "test"), ("lr", "lr"), ("batch", "batch"),
                           ("time", "time"), ("date", "date")):
            table.add_column(label, key=key)

    def set_runs(self, runs: list[RunInfo], folder: str) -> None:
        table = self.query_one(DataTable)
        previous = self.selected
        self.runs, self.folder = runs, folder
        table.clear()
        self.marked &= {run.path for run in runs}
        for run in runs:
            date = run.modified[5:16].replace("T", " ")
            state = "training" if run.path == self.training else run.state
            if run.error:
                table.add_row(self._name_cell(run), Text("unreadable", style="red"), "?", "", "", "", "", "", "",
                              date, key=run.path)
            else:
                test = "-" if run.test_accuracy is None else f"{percent(run.test_accuracy)} {run.test_checkpoint}"
                table.add_row(self._name_cell(run), state, run.model, f"{run.epochs_done}/{run.epochs}",
                              percent(run.best_val_accuracy), test, f"{run.lr:g}", str(run.batch_size),
                              format_duration(run.train_seconds), date, key=run.path)
        bad = [r for r in runs if r.error]
        status = f"{len(runs)} run{'s' if len(runs) != 1 else ''} in {folder}" if runs else f"No runs in {folder} yet."
        if bad:
            status += f" · [red]{len(bad)} unreadable:[/] " + "; ".join(f"{r.name}: {r.error}" for r in bad)
        self._status = status
        self._show_status()
        if previous is not None and previous.path in (paths := [r.path for r in runs]):
            table.move_cursor(row=paths.index(previous.path))

    def _name_cell(self, run: RunInfo) -> Text:
        mark = Text("● ", style="bold #ffaf00") if run.path in self.marked else Text("  ")
        return mark + Text(run.name, style="red" if run.error else "")

    def _show_status(self) -> None:
        status = self._status
        if self.marked:
            status += f" · [b]{len(self.marked)} marked[/b] (c compares)"
        self.query_one("#runs-status", Static).update(status)

    @property
    def marked_runs(self) -> list[RunInfo]:
        """The marked runs, in the table's order."""
        return [run for run in self.runs if run.path in self.marked]

    @property
    def selected(self) -> RunInfo | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    def _usable(self) -> RunInfo | None:
        run = self.selected
        if run is None:
            self.notify("No run selected: train one first (f5).", severity="warning")
        elif run.error:
            self.notify(f"{run.name} cannot be read: {run.error}", severity="error")
            return None
        return run

    # -- keys ---------------------------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        run = self.selected
        if run is None:
            return
        self.marked ^= {run.path}
        self.query_one(DataTable).update_cell(run.path, "name", self._name_cell(run))
        self._show_status()

    def action_first(self) -> None:
        self.query_one(DataTable).move_cursor(row=0)

    def action_last(self) -> None:
        self.query_one(DataTable).move_cursor(row=max(len(self.runs) - 1, 0))

    def action_refresh(self) -> None:
        self.post_message(self.RefreshRequested())

    def action_load(self) -> None:
        if (run := self._usable()) is not None:
            self.post_message(self.LoadRequested(run))

    def action_draw(self) -> None:
        if (run := self._usable()) is not None:
            self.post_message(self.DrawRequested(run))

    def action_resume(self) -> None:
        run = self._usable()
        if run is None:
            return
        if not run.finished:
            self.post_message(self.ResumeRequested(run))
            return

        def answered(epochs: int | None) -> None:
            if epochs:
                self.post_message(self.ResumeRequested(run, epochs))

        self.app.push_screen(NumberScreen(
            "Train more epochs?", f"{run.name} finished its {run.epochs} epochs. Train it this many more "
            "(the learning rate restarts at a tenth of its peak and decays again):", default=run.epochs), answered)

    def action_compare(self) -> None:
        runs = [run for run in self.marked_runs if not run.error]
        if len(runs) < 2:
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
            self.post_message(self.RefreshRequested())

        self.app.push_screen(ConfirmScreen("Delete run?", f"Delete {run.path} and every checkpoint in it? "
                                           "This cannot be undone.", yes="Delete", no="Keep"), answered)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_load()
