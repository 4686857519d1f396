"""The learning-rate finder: ``mnist-tui lr-find --json`` in a child process, its curve on a log-lr axis.

The range test trains (a copy of the model, for a few batches), so it runs in its own
process like every run: ``mnist-tui lr-find <the form's config as flags> --json`` (a
:class:`~mnist_tui.core.cli_child.CliChild`). A thread worker reads its JSON lines and posts them as messages; the curve
(smoothed loss against log10 lr, ticks labelled as real rates) grows as the steps
arrive and the suggestion is marked once it is found. Enter ("Use it") dismisses the
screen with the suggested rate; escape closes it (the child is killed: it saves nothing).

The app opens it with ``push_screen(LrFindScreen(config, data_dir=...), callback)``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Static
from textual_plotext import PlotextPlot

from ...core.cli_child import CliChild
from ...core.config import DATASET_TITLES, TrainConfig
from ...core.formatting import rate_label, rate_ticks
from ...core.tune_space import config_flags
from ..keys import QUIT_NOT_SHOWN, main_view_keys
from ..widgets.footer import FittingFooter

REDRAW_SECONDS = 0.25
LR_RANGE = (1e-6, 1.0)  # the range the app tests (lr-find's own defaults)


class LrCurve(PlotextPlot):
    """The smoothed loss against log10(lr); ``suggested`` draws a line and a point at the suggestion."""

    DEFAULT_CSS = "LrCurve { height: 1fr; min-height: 8; }"

    def __init__(self, span: tuple[float, float] = LR_RANGE, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.span = span  # the x axis: the whole range the test will cover, from its first frame
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.suggested: tuple[float, float] | None = None  # (lr, smoothed loss there)
        self.dirty = True

    def set_curve(self, lrs: list[float], losses: list[float], suggested: tuple[float, float] | None = None) -> None:
        self.lrs, self.losses, self.suggested = list(lrs), list(losses), suggested
        self.dirty = True

    def add_point(self, lr: float, loss: float) -> None:
        if lr > 0 and math.isfinite(loss):
            self.lrs.append(lr)
            self.losses.append(loss)
            self.dirty = True

    def replot(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("learning rate (log scale)")
        low, high = math.log10(self.span[0]), math.log10(self.span[1])  # one point alone drew raw exponents
        if not self.lrs:  # the axis and its ticks from the first frame: plotext draws ticks only for data
            plt.title("reading the digits, then the first batches…")  # (a missing dataset is looked for first)
            plt.scatter([low, high], [0, 0], marker=" ")
            plt.yticks([])
        else:
            plt.plot([math.log10(lr) for lr in self.lrs], self.losses, marker="braille", color="cyan")
            plt.title("smoothed loss")
        if self.lrs and self.suggested is not None:
            sx = math.log10(self.suggested[0])
            plt.vline(sx, "green")
            plt.scatter([sx], [self.suggested[1]], marker="●", color="green")
            plt.title(f"smoothed loss · suggested lr {rate_label(self.suggested[0])}")
        positions, labels = rate_ticks(low, high)
        if positions:
            plt.xticks(positions, labels)
        plt.xlim(low, high)
        self.refresh()


class SaidButton(Button):
    """A button whose enter the footer names by the button's label (a focused Button's own enter binding is
    hidden, and it hid the screen's "enter Use it")."""

    def __init__(self, label: str, **kwargs) -> None:
        super().__init__(label, **kwargs)
        self._bindings.key_to_bindings.pop("enter", None)  # (this instance's own copy of the class's map)
        self._bindings.bind("enter", "press", label)


class LrFindScreen(Screen["float | None"]):
    """Run the range test for ``config``; dismissed with the suggested lr (enter) or None (escape)."""

    DEFAULT_CSS = """
    LrFindScreen { layout: vertical; }
    LrFindScreen #lr-title { height: auto; padding: 0 1; }  /* one line at 80 columns; wraps, never cut, if longer */
    LrFindScreen #lr-progress { height: 1; padding: 0 1; }
    LrFindScreen #lr-result { height: auto; min-height: 2; max-height: 14; padding: 0 1; }
    LrFindScreen #lr-result.error { color: $error; }
    LrFindScreen #lr-buttons { height: 1; padding: 0 1; }
    LrFindScreen Button { min-width: 12; margin: 0 1 0 0; }
    """

    BINDINGS = [
        QUIT_NOT_SHOWN,
        *main_view_keys("ctrl+l"),
        Binding("enter", "use", "Use it"),
        Binding("escape", "close", "Close"),
    ]

    class Progress(Message):
        def __init__(self, record: dict[str, Any]) -> None:
            super().__init__()
            self.record = record

    class Ended(Message):
        """The child exited: ``found`` is the lr_found record, or None with ``error`` saying why."""

        def __init__(self, found: dict[str, Any] | None, error: str | None) -> None:
            super().__init__()
            self.found, self.error = found, error

    def __init__(self, config: TrainConfig, *, data_dir: str | Path | None = None, steps: int | None = None,
                 lr_range: tuple[float, float] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.config = config
        self.data_dir = data_dir
        self.steps = steps
        self.lr_range = lr_range or LR_RANGE  # (start, end)
        self.child: CliChild | None = None  # the ``lr-find`` process
        self.reader = None  # the thread worker reading the child's output
        self.found: dict[str, Any] | None = None
        self.error: str | None = None

    @property
    def suggested(self) -> float | None:
        """The suggested rate, rounded to 3 significant digits as shown (what "Use it" gives the form)."""
        rate = self.found["suggested_lr"] if self.found else None
        return None if rate is None else float(f"{rate:.3g}")

    def args(self) -> list[str]:
        """The child's arguments: ``lr-find`` with the config as flags, JSON lines out."""
        args = ["lr-find", *config_flags(self.config), "--json"]
        args += ["--start", repr(self.lr_range[0]), "--end", repr(self.lr_range[1])]
        if self.steps is not None:
            args += ["--steps", str(self.steps)]
        if self.data_dir:
            args += ["--data-dir", str(self.data_dir)]
        return args

    def compose(self) -> ComposeResult:
        c = self.config
        dataset = "" if c.dataset == "mnist" else f"{DATASET_TITLES[c.dataset]} · "  # (walk37 F9)
        yield Static(f"[b]Find a learning rate[/] · {dataset}{c.model} · {c.optimizer} · batch {c.batch_size} · "
                     "on a copy, saves nothing", id="lr-title")
        yield Static(f"starting: the lr grows from {rate_label(self.lr_range[0])} to {rate_label(self.lr_range[1])} "
                     "(or until the loss blows up)", id="lr-progress")
        yield LrCurve(self.lr_range, id="lr-curve")
        yield Static("", id="lr-result")
        with Horizontal(id="lr-buttons"):
            for button in (SaidButton("Use it", id="lr-use", variant="primary", compact=True, disabled=True),
                           SaidButton("Close", id="lr-close", compact=True)):
                button.can_focus = False  # until the test is done: enter before then must not close it
                yield button
        yield FittingFooter()

    def on_mount(self) -> None:
        try:
            self.child = CliChild(self.args())
        except OSError as exc:
            self._show_error(f"cannot start the range test: {exc}")
            return
        self.reader = self._read_output(self.child)
        self.set_interval(REDRAW_SECONDS, self._redraw)

    def system_commands(self):
        """Palette entries while this screen is on top."""
        if self.suggested is not None:
            yield SystemCommand("Use the suggested learning rate", f"Fill the form's lr with {self.suggested:g} "
                                "(enter)", self.action_use)
        yield SystemCommand("Close the lr finder", "Back to the form (escape)", self.action_close)

    @work(thread=True, exclusive=True, group="lr-find", exit_on_error=False)
    def _read_output(self, child: CliChild) -> int:
        found = None
        for record in child.records():
            if record.get("event") == "lr_found":
                found = record
            elif record.get("event") == "lr_step":
                self.post_message(self.Progress(record))
        code = child.wait()
        error = None
        if found is None:
            error = child.message() or f"the range test ended with exit code {code}"
        self.post_message(self.Ended(found, error))
        return code

    def on_lr_find_screen_progress(self, message: Progress) -> None:
        r = message.record
        self.query_one(LrCurve).add_point(r["lr"], r["smoothed"])
        done = r["step"] / max(r["steps"], 1)
        bar = "█" * round(done * 20) + "░" * (20 - round(done * 20))
        self.query_one("#lr-progress", Static).update(
            f"{bar} step {r['step']}/{r['steps']} · lr {rate_label(r['lr'])} · smoothed loss {r['smoothed']:.3f}")

    def on_lr_find_screen_ended(self, message: Ended) -> None:
        if message.found is None:
            if self.is_mounted and not self.error:
                self._show_error(message.error or "the range test failed")
            return
        found = self.found = message.found
        index = found["suggested_index"]
        marked = None if index is None else (found["suggested_lr"], found["losses"][index])
        self.query_one(LrCurve).set_curve(found["lrs"], found["losses"], marked)
        self._redraw()
        seconds = found.get("seconds")
        took = f"; {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        self.query_one("#lr-progress", Static).update(
            f"done: {found['steps']} steps, stopped: {found['stop_reason']}{took}")
        result = self.query_one("#lr-result", Static)
        if self.suggested is None:  # nothing worth putting in the form: "Use it" stays off
            result.update(Text.assemble(("No suggestion: ", "bold"), f"{found.get('why_none', '')} · escape: close"))
            return
        result.update(f"[b]Suggested lr {self.suggested:g}[/] (steepest fall of the loss; lowest loss at "
                      f"lr {rate_label(found['min_loss_lr'])}) · enter on Use it puts it in the form, escape: close")
        for button in self.query(Button):  # Tab goes between them, enter presses the one focused
            button.can_focus = True
        self.query_one("#lr-use", Button).disabled = False
        self.query_one("#lr-use", Button).focus()
        self.refresh_bindings()

    def _show_error(self, text: str) -> None:
        self.error = text
        self.query_one("#lr-progress", Static).update("the range test did not finish")
        result = self.query_one("#lr-result", Static)
        result.add_class("error")
        result.update(Text(f"{text}\n(escape: close)"))
        if not self.query_one(LrCurve).lrs:
            self.query_one(LrCurve).display = False  # room for the message

    def _redraw(self) -> None:
        self.query_one(LrCurve).replot()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "use":
            return self.suggested is not None
        return True

    @on(Button.Pressed, "#lr-use")
    def action_use(self) -> None:
        if self.suggested is not None:
            self.dismiss(self.suggested)

    @on(Button.Pressed, "#lr-close")
    def action_close(self) -> None:
        self._kill()
        self.dismiss(None)

    def _kill(self) -> None:
        if self.child is not None:
            self.child.kill()  # it saves nothing

    def on_unmount(self) -> None:
        self._kill()


__all__ = ["LrCurve", "LrFindScreen"]
