"""One run's full config in a dialog, every field under the form's label (i in Runs).

Fields that change nothing for this run (width for an mlp, beta2 for sgd) are shown dim
and marked, so the table reads like the form that would train it again.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...core.config import TrainConfig, field_applies, field_label, field_names, format_field
from ...core.formatting import schedules_text

UNUSED = "·"  # marks a field that does not apply to this run


def config_rows(config: TrainConfig) -> list[tuple[str, str, bool]]:
    """(form label, value as the form writes it, whether it applies to this run) for every field."""
    return [(field_label(name), format_field(name, getattr(config, name)), field_applies(name, config))
            for name in field_names()]


def config_table(config: TrainConfig, columns: int = 2) -> Table:
    """The rows in ``columns`` label/value pairs side by side (two fit 80 columns)."""
    rows = config_rows(config)
    table = Table.grid(padding=(0, 1))
    for _ in range(columns):
        table.add_column(style="bold", no_wrap=True)
        table.add_column(no_wrap=True, min_width=10)
    height = -(-len(rows) // columns)
    for line in range(height):
        cells: list[Text] = []
        for column in range(columns):
            index = column * height + line
            if index >= len(rows):
                cells += [Text(""), Text("")]
                continue
            label, value, applies = rows[index]
            cells.append(Text(label, style="" if applies else "dim"))
            cells.append(Text(value) if applies else Text(f"{value} {UNUSED}", style="dim"))
        table.add_row(*cells)
    return table


class RunConfigScreen(ModalScreen[bool]):
    """A run's config; dismisses with True when asked to load it into the form (f)."""

    DEFAULT_CSS = """
    RunConfigScreen { align: center middle; }
    RunConfigScreen > Vertical {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    RunConfigScreen .dialog-title { text-style: bold; }
    RunConfigScreen VerticalScroll { height: auto; max-height: 17; }
    RunConfigScreen #config-note { color: $text-muted; }
    RunConfigScreen Horizontal { height: auto; align-horizontal: right; }
    RunConfigScreen Button { margin-left: 1; }
    """
    BINDINGS = [
        Binding("escape,i,enter", "close", "Close"),
        Binding("f", "to_form", "To form"),
    ]

    def __init__(self, name: str, config: TrainConfig, schedules: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.run_name, self.config = name, config
        self.schedules = schedules  # trained more epochs: its epochs are the total of these

    def compose(self) -> ComposeResult:
        with Vertical():
            trained = f" ({schedules_text(self.schedules)})" if len(self.schedules) > 1 else ""
            yield Static(f"{self.run_name}: config{trained}", classes="dialog-title")
            with VerticalScroll(id="config-fields"):
                yield Static(config_table(self.config), id="config-table")
            yield Static(f"{UNUSED} dim: not used by this run's model, optimizer or schedule", id="config-note")
            with Horizontal():
                yield Button("To form (f)", id="to-form", compact=True)
                yield Button("Close (esc)", variant="primary", id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_resize(self) -> None:
        """The fields scroll in what the rows leave (at 60x20 their 17 rows pushed the buttons off the screen):
        the borders, title, note (two lines when narrow) and buttons take 7."""
        note = 1 if self.size.width >= 80 else 2
        self.query_one(VerticalScroll).styles.max_height = max(3, min(17, self.size.height - 5 - note))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "to-form")

    def action_close(self) -> None:
        self.dismiss(False)

    def action_to_form(self) -> None:
        self.dismiss(True)


__all__ = ["RunConfigScreen", "config_rows", "config_table"]
