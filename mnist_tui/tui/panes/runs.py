"""The Runs view: saved runs in the checkpoints folder; load, resume or delete one, mark some to compare."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


class RunsPane(Vertical):
    BINDINGS = [
        Binding("l", "app.load_checkpoint", "Load"),
        Binding("r", "app.resume_run", "Resume"),
        Binding("d", "app.delete_run", "Delete"),
        Binding("ctrl+r", "app.refresh_runs", "Refresh", show=False),  # the list also refreshes when shown
        Binding("m,space", "toggle_mark", "Mark", key_display="m"),
        Binding("c", "app.compare_runs", "Compare"),
        Binding("w", "app.draw_with_run", "Draw", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="runs-pane")
        self.runs: list[Any] = []
        self.marked: set[str] = set()  # paths of the runs marked for comparison
        self._status = ""

    def compose(self) -> ComposeResult:
        yield Static("Reading the checkpoints folder…", id="runs-status")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in (("run", "name"), ("model", "model"), ("epochs", "epochs"), ("best val", "val"),
                           ("test", "test"), ("date", "date")):
            table.add_column(label, key=key)

    def set_runs(self, runs: list[Any], folder: str) -> None:
        table = self.query_one(DataTable)
        previous = self.selected
        self.runs = runs
        table.clear()
        self.marked &= {run.path for run in runs}
        for run in runs:
            if run.error:
                table.add_row(self._name_cell(run), "?", "", "", Text("unreadable", style="red"),
                              run.modified[5:16].replace("T", " "), key=run.path)
            else:
                table.add_row(self._name_cell(run), run.model, f"{run.epochs_done}/{run.epochs}", _percent(run.best_val_accuracy),
                              _percent(run.test_accuracy), run.modified[5:16].replace("T", " "), key=run.path)
        bad = [r for r in runs if r.error]
        status = f"{len(runs)} run{'s' if len(runs) != 1 else ''} in {folder}" if runs else f"No runs in {folder} yet."
        if bad:
            status += f" · [red]{len(bad)} unreadable:[/] " + "; ".join(f"{r.name}: {r.error}" for r in bad)
        self._status = status
        self._show_status()
        if previous is not None:
            paths = [r.path for r in runs]
            if previous.path in paths:
                table.move_cursor(row=paths.index(previous.path))

    def _name_cell(self, run: Any) -> Text:
        mark = Text("● ", style="bold #ffaf00") if run.path in self.marked else Text("  ")
        return mark + Text(run.name, style="red" if run.error else "")

    def _show_status(self) -> None:
        status = self._status
        if self.marked:
            status += f" · [b]{len(self.marked)} marked[/b] (c compares)"
        self.query_one("#runs-status", Static).update(status)

    @property
    def marked_runs(self) -> list[Any]:
        """The marked runs, in the table's order."""
        return [run for run in self.runs if run.path in self.marked]

    def action_toggle_mark(self) -> None:
        run = self.selected
        if run is None:
            return
        self.marked ^= {run.path}
        self.query_one(DataTable).update_cell(run.path, "name", self._name_cell(run))
        self._show_status()

    @property
    def selected(self) -> Any | None:
        table = self.query_one(DataTable)
        if not self.runs or table.cursor_row < 0 or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        await self.app.run_action("load_checkpoint")
