"""The Runs view's table: one row per run, columns sized to their content when filled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.cells import cell_len
from rich.markup import escape
from rich.text import Text
from textual.binding import Binding

from ...core.formatting import test_cell
from ...core.runs import RunInfo
from .column_table import ColumnTable
from .fit import Part
from .progress import cut_middle, format_duration, percent

# (column key, label, sort key, newest/largest first by default); None sorts last either way
COLUMNS: tuple[tuple[str, str, Callable[[RunInfo], Any], bool], ...] = (
    ("name", "run", lambda r: r.name.lower(), False),
    ("state", "state", lambda r: r.state, False),
    ("model", "model", lambda r: r.model, False),
    ("epochs", "epochs", lambda r: r.epochs_done, True),
    ("val", "best val", lambda r: r.best_val_accuracy, True),
    ("test", "test", lambda r: r.test_accuracy, True),
    ("lr", "lr", lambda r: r.lr, False),
    ("batch", "batch", lambda r: r.batch_size, False),
    ("time", "time", lambda r: r.train_seconds, True),
    ("date", "date", lambda r: r.modified, True),
)
COLUMN_LABELS = {key: label for key, label, _, _ in COLUMNS}


def sorted_runs(runs: list[RunInfo], column: str, descending: bool) -> list[RunInfo]:
    """``runs`` ordered by a column; runs without a value (unreadable, unfinished) always last."""
    key = next(k for name, _, k, _ in COLUMNS if name == column)
    present = [r for r in runs if not r.error and key(r) is not None]
    missing = [r for r in runs if r not in present]
    return sorted(present, key=key, reverse=descending) + missing


def matches(run: RunInfo, text: str) -> bool:
    """Whether the run's name, model or state contains ``text`` (any case)."""
    text = text.strip().lower()
    return not text or any(text in value.lower() for value in (run.name, run.model, run.state))


def name_cell(run: RunInfo, marked: bool, width: int | None = None) -> Text:
    """The mark and the name, cut in its middle to ``width`` cells in all (a 68-character name took 70 of 80
    columns, walk39 F1)."""
    mark = Text("● ", style="bold #ffaf00") if marked else Text("  ")
    name = run.name if width is None else cut_middle(run.name, max(width - 2, 8))
    return mark + Text(name, style="red" if run.error else "")


def run_cells(run: RunInfo, marked: bool, training: str | None = None, width: int | None = None
              ) -> tuple[Text | str, ...]:
    """One row's cells, in COLUMNS' order; ``training``: its state while this app trains it ("paused");
    ``width``: the name column's most."""
    date = run.modified[5:16].replace("T", " ")
    if run.error:
        return name_cell(run, marked, width), Text("unreadable", style="red"), run.model, "", "", "", "", "", "", date
    test = test_cell(run.test_accuracy, run.test_checkpoint, run.epochs_done, run.test_tta)  # as `runs` writes it
    return (name_cell(run, marked, width), training or run.state, run.model,
            f"{run.epochs_done}/{run.epochs}", percent(run.best_val_accuracy), test, lr_cell(run),
            str(run.batch_size), format_duration(run.train_seconds), date)


def lr_cell(run: RunInfo) -> str:
    """The config's rate, and the steering it ended with: a run steered x0.25 read as the form's 0.015 (walk34 F15)."""
    return f"{run.lr:g}" + (f" ×{run.steered:g}" if run.steered != 1 else "")


class RunsTable(ColumnTable):
    """Rows of runs, keyed by their paths (enter loads one, as l does).

    Each fill gives the columns the width of their widest cell at once: left to the table's
    auto width, a refill drawn before the table measured its new rows kept the header-wide
    drawing (the columns collapsed after a filter change until ctrl+r).
    """

    # (DataTable's read "Select"; the keys panel says it on Runs' own l row, "Load the run (or ⏎)")
    BINDINGS = [Binding("enter", "select_cursor", "Load", show=False, system=True)]
    name_width: int | None = None  # the name column's most, set at each fill

    def show_runs(self, runs: list[RunInfo], sort_column: str, descending: bool, marked: set[str],
                  training: str | None, training_word: str = "training") -> None:
        """Fill the table with ``runs`` in their order; the sorted column's header carries an arrow."""
        self.name_width = self.name_room()
        rows = [run_cells(run, run.path in marked, training_word if run.path == training else None, self.name_width)
                for run in runs]
        scrolled = self.scroll_x  # a sort keeps the columns scrolled to (they jumped back to the first)
        self.clear(columns=True)
        for index, (key, label, _, _) in enumerate(COLUMNS):
            arrow = (" ▼" if descending else " ▲") if key == sort_column else ""
            header = Text(label + arrow, style="bold" if arrow else "")
            width = max([header.cell_len, *(cell_len(str(row[index])) for row in rows)])
            self.add_column(header, key=key, width=width)
        for run, cells in zip(runs, rows):
            self.add_row(*cells, key=run.path)
        if scrolled:
            self.scroll_to(x=scrolled, animate=False, immediate=True)

    def name_room(self) -> int:
        """The name column's most at this width: two fifths of it (a name is cut in its middle to fit)."""
        return max(24, (self.size.width or self.app.size.width) * 2 // 5)

    def show_mark(self, run: RunInfo, marked: bool) -> None:
        self.update_cell(run.path, "name", name_cell(run, marked, self.name_width))


def marked_part(marked: set[str], runs: list[RunInfo]) -> list[Part]:
    """The header's "N marked" part, if any are: c compares every marked run, and it says when the filter hides
    some."""
    if not marked:
        return []
    hidden = len(marked - {run.path for run in runs})
    compares = f", {hidden} hidden by the filter (c compares all {len(marked)})" if hidden else " (c compares)"
    return [(" · ", f"[b]{len(marked)} marked[/b]{compares}", 7)]


def header_parts(total: int, runs: list[RunInfo], folder: str, filter_text: str, sort_column: str,
                 descending: bool) -> list[Part]:
    """The Runs header's parts, of ``total`` runs listed in ``folder``, ``runs`` shown: one line at any width
    (it wrapped, a line starting "·"): the folder (plain text, the second part) is cut, then the order hint
    and the folder go."""
    if not total:  # (no order of nothing: "yet. · newest first (s)", walk40 F11)
        return [("", f"No runs in {escape(folder)} yet: f5 trains one", 9)]
    parts: list[Part] = [("", f"{total} run{'s' if total != 1 else ''}", 9), (" in ", folder, 2)]
    if filter_text:
        parts = [("", f"[b]{len(runs)} of {total}[/b] runs hold [b]“{escape(filter_text)}”[/b]", 9),
                 (" ", "(esc clears)", 3)]
    order = "newest first" if sort_column == "date" and descending else \
        f"by {COLUMN_LABELS[sort_column]} {'▼' if descending else '▲'}"
    parts.append((" · ", f"{order} (s)", 1))
    if bad := [r for r in runs if r.error]:  # one line: the reasons, each a path long, took 9 of 24 lines
        which = "it" if len(bad) == 1 else "one"
        parts.append((" · ", f"[red]{len(bad)} unreadable[/] (l on {which} says why)", 5))
    return parts
