"""Modal dialogs: a yes/no confirmation and a message box (for errors such as missing data)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from .footer import FittingFooter

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 70; max-width: 95%; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; margin-bottom: 1; }}
{name} VerticalScroll {{ height: auto; max-height: 13; }}  /* title, buttons and border fit in 24 rows */
{name} Horizontal {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} Button {{ margin-left: 1; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True for yes."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text, self.message, self.yes, self.no = title, message, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.message)
            with Horizontal():
                yield Button(f"{self.yes} (y)", variant="error", id="yes", compact=True)
                yield Button(f"{self.no} (n)", variant="primary", id="no", compact=True)
        # over the view's footer, whose keys do nothing under the question (they were listed: walk39 F9)
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class MessageScreen(ModalScreen[None]):
    """Show a (possibly long) message until dismissed with enter or escape."""

    DEFAULT_CSS = DIALOG_CSS.format(name="MessageScreen")
    BINDINGS = [Binding("escape,enter", "close", "Close")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text, self.message = title, message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title")
            with VerticalScroll():
                yield Static(self.message, markup=False)
            with Horizontal():
                yield Button("OK (enter)", variant="primary", id="ok", compact=True)
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()  # arrows scroll a long message; enter still closes

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class NumberScreen(ModalScreen["int | None"]):
    """Ask for a whole number in a range; dismisses with it, or None when cancelled."""

    DEFAULT_CSS = DIALOG_CSS.format(name="NumberScreen") + "NumberScreen Input { width: 12; }"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, message: str, default: int, low: int = 1, high: int = 1000) -> None:
        super().__init__()
        self.title_text, self.message, self.default, self.low, self.high = title, message, default, low, high

    def compose(self) -> ComposeResult:
        from textual.widgets import Input

        with Vertical():
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.message)
            yield Input(str(self.default), id="number", type="integer", compact=True)
            yield Static("", id="number-error", classes="error")
            with Horizontal():
                yield Button("OK (enter)", variant="primary", id="ok", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#number").focus()

    def _submit(self) -> None:
        text = self.query_one("#number").value.strip()
        if text.isdigit() and self.low <= int(text) <= self.high:
            self.dismiss(int(text))
        else:
            self.query_one("#number-error", Static).update(f"a whole number from {self.low} to {self.high}")

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._submit() if event.button.id == "ok" else self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
