"""The 10x10 confusion matrix as a heat-mapped DataTable, with per-class accuracy."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from .column_table import ColumnTable
from .fit import class_label

PREDICTED_COLUMNS = 10


def heat_style(count: int, row_total: int, diagonal: bool) -> str:
    """A style that reads in 16 colours: green diagonal; off-diagonal from dim to red by share of the row."""
    if diagonal:
        return "bold green"
    if count == 0:
        return "dim"
    share = count / max(row_total, 1)
    if share < 0.005:
        return "yellow"
    if share < 0.02:
        return "bold black on yellow"
    return "bold white on red"


def accuracy_style(accuracy: float) -> str:
    if math.isnan(accuracy):
        return "dim"
    if accuracy >= 0.99:
        return "green"
    if accuracy >= 0.97:
        return "yellow"
    return "bold red"


class ConfusionTable(ColumnTable):
    """Rows are true classes, columns predicted classes; enter on a cell posts :class:`PairChosen`.

    Narrower than its 60 columns, a column cut by the right edge is left blank and the header says how many
    lie past it, as in Runs (cut, "→9" read "→" and 99.4% read "99"); ← and → move the cell cursor."""

    BINDINGS = [Binding("enter", "select_cursor", "Open its digits", show=False)]  # (DataTable's read "Select")

    DEFAULT_CSS = """
    ConfusionTable { height: auto; max-height: 100%; width: auto; max-width: 100%; }
    """

    class PairChosen(Message):
        """``predicted`` is None for "every wrong prediction of this true class"."""

        def __init__(self, true_label: int, predicted: int | None) -> None:
            super().__init__()
            self.true_label = true_label
            self.predicted = predicted

    def __init__(self, *, id: str | None = None) -> None:
        # narrower than the table (60 columns), it scrolls to the cursor and the true class stays put
        super().__init__(id=id, cursor_type="cell", zebra_stripes=False, fixed_columns=1)

    def action_cursor_right(self) -> None:  # a cell at a time (ColumnTable's move whole columns for a row cursor)
        DataTable.action_cursor_right(self)

    def action_cursor_left(self) -> None:
        DataTable.action_cursor_left(self)

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        """Sideways by whole columns (DataTable's scrolled by characters, cutting the columns at the left): the
        cursor's column comes in whole, the scroll stops at a column's start, and while columns lie past the
        right edge the header keeps room for its " →", where the cursor's column would have been blanked."""
        super()._scroll_cursor_into_view(animate)  # and up and down
        widths = [column.get_render_width(self) for column in self.columns.values()]
        column, fixed = self.cursor_coordinate.column, self.fixed_columns
        room = self.scrollable_content_region.width - sum(widths[:fixed])
        if column < fixed or room <= 0:
            return
        starts = [sum(widths[fixed:i]) for i in range(fixed, len(widths))]  # each scrolling column's x
        start = starts[column - fixed]
        end = start + widths[column] + (len(" →") if column < len(widths) - 1 else 0)
        x = min(start, round(self.scroll_x))
        x = min([s for s in starts if x <= s <= start and end - s <= room] or [start])
        self.scroll_to(x=x, animate=False, force=True)

    def on_mount(self) -> None:
        self.add_column(Text("true", style="bold"), key="true")
        for p in range(PREDICTED_COLUMNS):
            self.add_column(Text(f"→{p}", style="bold", justify="right"), key=str(p))
        self.add_column(Text("acc", style="bold", justify="right"), key="acc")

    def set_confusion(self, confusion: list[list[int]], per_class_accuracy: list[float],
                      class_names: tuple[str, ...] | None = None) -> None:
        """Fill the table; rows name their class when the names are not just the digits."""
        self.clear()
        for t, row in enumerate(confusion):
            total = sum(row)
            cells: list[Any] = [Text(class_label(t, class_names), style="bold")]
            # as `mnist-tui eval` says them: "·" for none, two decimals (it said "0" and 99.5% for 99.49%: walk40 F8)
            cells += [Text(str(c) if c or t == p else "·", style=heat_style(c, total, t == p), justify="right")
                      for p, c in enumerate(row)]
            acc = per_class_accuracy[t]
            cells.append(Text("-" if math.isnan(acc) else f"{acc:.2%}", style=accuracy_style(acc), justify="right"))
            self.add_row(*cells, key=str(t))
        self.move_cursor(row=0, column=1)

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        true_label = event.coordinate.row
        column = event.coordinate.column
        predicted = column - 1 if 1 <= column <= PREDICTED_COLUMNS else None
        if predicted == true_label:
            predicted = None
        self.post_message(self.PairChosen(true_label, predicted))
