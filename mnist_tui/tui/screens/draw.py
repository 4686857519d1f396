"""The Draw view: draw a digit, and a trained model reads it as you draw.

The drawing goes through ``prepare_digit`` exactly as ``mnist-tui predict`` does (crop to the ink, fit
20x20, centre of mass at the centre), so an off-centre or oversized digit still reads; ``i`` shows the
28x28 picture the model is given. ``e`` shows why: attribution maps over that picture for the predicted
class and for the digit the user says they meant (a digit key) or else the runner-up, redrawn as the
drawing changes but at most one at a time and a few a second. The model loads, predicts and explains in
thread workers: torch never runs on the UI thread.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Digits, Static

from ...core.config import CLASS_NAMES
from ...core.formatting import short_percent
from ...core.runs import default_model_candidates, find_default_model
from ..keys import QUIT_NOT_SHOWN, main_view_keys
from ..messages import DrawModelFailed, DrawModelLoaded, DrawPredicted
from ..widgets.canvas import Canvas
from ..widgets.digit_art import digit_text
from ..widgets.drawing_explainer import DrawingExplainer
from ..widgets.footer import FittingFooter
from ..widgets.probability_bars import ProbabilityBars
from ..widgets.progress import cut_middle


class DrawScreen(Screen):
    """Draw a digit with the mouse or keyboard and watch a model's probabilities change."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]

    DEFAULT_CSS = """
    DrawScreen { layout: vertical; }
    #draw-title { height: 1; padding: 0 1; background: $boost; }
    #draw-body { height: 1fr; }
    #draw-left { width: 31; padding-left: 1; }
    #draw-help { height: auto; color: $text-muted; }
    #model-input-box { width: 30; height: 16; display: none; border: round $foreground 40%; background: #000000; }
    #model-input-box.shown { display: block; }
    DrawScreen.-narrow #model-input-box.shown { display: none; }  /* it pushed the reading off the right edge */
    #prediction { width: 1fr; padding: 0 1; }
    #top-class { width: auto; }
    #top-row { height: 3; }
    #top-name { padding: 1 0 0 2; width: 1fr; }
    #draw-status { height: auto; max-height: 4; padding: 0 1; color: $text-muted; display: none; }
    #draw-status.-shown { display: block; }
    #draw-explain { display: none; height: 1fr; }
    DrawScreen.explaining #draw-explain { display: block; }
    DrawScreen.explaining #bars { display: none; }
    """
    BINDINGS = [
        QUIT_NOT_SHOWN, *main_view_keys("f9"),
        Binding("escape", "close", "Back"),
        Binding("i", "toggle_input", "Model input"),
        Binding("e", "explain", "Explain"),
        Binding("m", "toggle_method", "Method", show=False),
        Binding("s", "save", "Save PNG"),
        Binding("c", "clear", "Clear"),
        *[Binding(str(d), f"meant({d})", "" if d else "Digit you meant (Explain)", show=False) for d in range(10)],
    ]

    def __init__(self, model: str | Path | None = None, *, checkpoints_dir: str | Path = "checkpoints",
                 save_dir: str | Path = "drawings", kept: dict[str, np.ndarray] | None = None) -> None:
        """``kept``: holds the drawing as it changes, and gives it back the next time Draw opens (it was gone,
        so one digit could not be read by two models: walk34 F11)."""
        super().__init__()
        self.kept = kept if kept is not None else {}
        self.model_spec = model
        self._title: tuple[str, str] | None = None  # the model's run, and what follows it in the title
        self.checkpoints_dir = Path(checkpoints_dir)
        self.save_dir = Path(save_dir)
        self.model: Any = None
        self.model_path: Path | None = None
        self.class_names: tuple[str, ...] = CLASS_NAMES["mnist"]
        self.probabilities: list[float] | None = None
        self.model_input = np.zeros((28, 28), dtype=np.uint8)
        self.last_saved: Path | None = None
        self._saved_pixels: np.ndarray | None = None  # the drawing as saved, while the status line says where
        self.last_predict_seconds: float | None = None
        self._serial = 0  # predictions from older drawings are dropped when they arrive late
        self._input_covered = False  # the model input was shown when the maps took its place
        self._maps_covered = False  # the maps were shown when the model input took their place

    def compose(self) -> ComposeResult:
        yield Static("Draw a digit · loading the model…", id="draw-title")
        with Horizontal(id="draw-body"):
            with Vertical(id="draw-left"):
                yield Canvas(id="canvas")
                yield Static(id="draw-help", markup=False)
            model_box = Vertical(id="model-input-box")
            model_box.border_title = "model input"
            with model_box:
                yield Static(id="model-input")
            with Vertical(id="prediction"):
                with Horizontal(id="top-row"):
                    yield Digits("", id="top-class")
                    yield Static("", id="top-name")
                yield ProbabilityBars(id="bars")
                yield DrawingExplainer(id="draw-explain")
        # the width of the screen: a saved drawing's predict command reads whole beside the model input too
        yield Static("", id="draw-status", markup=False)
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(Canvas).focus()
        if (drawing := self.kept.get("pixels")) is not None:
            self.canvas.set_pixels(drawing)
        self.watch(self.canvas, "brush", self._brush_changed)
        self._show_model_input()
        self.load_model_in_background()

    @property
    def canvas(self) -> Canvas:
        return self.query_one(Canvas)

    def _brush_changed(self, _brush: int) -> None:
        """[ or ]: the help shows the new brush, whole again (a "Saved …" note took its last rows)."""
        self._clear_saved()
        self.query_one("#draw-help", Static).update(
            "drag: draw · right-drag: erase\narrows move, space paints,\nshift+arrows paint as they go\n"
            f"⌫ erase · c clear\nbrush {self.canvas.brush} ([ smaller ] bigger)")

    def _status(self, text: str) -> None:
        status = self.query_one("#draw-status", Static)
        status.update(text)
        status.set_class(bool(text), "-shown")

    # -- the model ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="draw-model", name="load drawing model")
    def load_model_in_background(self) -> None:
        try:
            from ...core.checkpoints import load_checkpoint, model_from_checkpoint
            from ...core.evaluation import resolve_model as resolve_checkpoint  # a run's one reported checkpoint

            if self.model_spec is None:
                run = find_default_model(self.checkpoints_dir)
                if run is None:
                    places = ", ".join(str(p) for p in default_model_candidates(self.checkpoints_dir))
                    self.post_message(DrawModelFailed(
                        f"No model to read drawings: no {places}. Train one (f5), then open Draw from Runs (w)."))
                    return
                path = resolve_checkpoint(run)
            else:
                path = resolve_checkpoint(self.model_spec, self.checkpoints_dir)
            model, config = model_from_checkpoint(load_checkpoint(path), "cpu")
            self.post_message(DrawModelLoaded(model, config, path))
        except Exception as exc:  # noqa: BLE001 - shown on screen; drawing still works
            self.post_message(DrawModelFailed(str(exc) or repr(exc)))

    def on_draw_model_loaded(self, message: DrawModelLoaded) -> None:
        self.model, self.model_path = message.model, message.path
        self.class_names = CLASS_NAMES.get(message.config.dataset, CLASS_NAMES["mnist"])
        self.query_one(ProbabilityBars).show(None, self.class_names)
        self.explainer.model = message.model
        self.explainer.names = None if self.class_names == CLASS_NAMES["mnist"] else self.class_names
        self._title = (message.path.parent.name, f"/{message.path.name} · {message.config.model} on "
                       f"{message.config.dataset}")
        self._show_title()
        self._predict(self.canvas.pixels)

    def on_resize(self) -> None:
        self._show_title()

    def _show_title(self) -> None:
        """"Draw · RUN/last.pt · MODEL on DATASET" on its one line: a long RUN is cut in its middle (it wrapped,
        and the line read only "Draw ·", walk39 F4)."""
        if self._title is not None:
            run, rest = self._title
            room = (self.size.width or self.app.size.width) - 2 - len("Draw · ") - len(rest)
            self.query_one("#draw-title", Static).update(f"Draw · {cut_middle(run, max(room, 12))}{rest}")

    def on_draw_model_failed(self, message: DrawModelFailed) -> None:
        self._title = None
        self.query_one("#draw-title", Static).update("Draw · no model loaded")
        self._status(message.reason)
        self.explainer.show(f"Nothing to explain without a model. {message.reason}")
        self.notify(message.reason, title="No model", severity="warning", timeout=8)

    # -- predicting -----------------------------------------------------------------------------

    def on_canvas_changed(self, message: Canvas.Changed) -> None:
        self.kept["pixels"] = message.pixels
        if not np.array_equal(message.pixels, self._saved_pixels):  # a stroke's message after a quick s: still it
            self._clear_saved()  # "Saved …" names the drawing as it was
        self._predict(message.pixels)

    def _clear_saved(self) -> None:
        if self._saved_pixels is not None:
            self._saved_pixels = None
            self._status("")

    def _predict(self, pixels: np.ndarray) -> None:
        self._serial += 1
        if not pixels.any():
            self.probabilities = None
            self.model_input = np.zeros((28, 28), dtype=np.uint8)
            self._show_prediction()
            self._show_model_input()
            self.explainer.set_drawing(None)
            return
        self.predict_in_background(pixels.copy(), self._serial)  # without a model: the model input alone

    @work(thread=True, exclusive=True, exit_on_error=False, group="draw-predict", name="predict drawing")
    def predict_in_background(self, pixels: np.ndarray, serial: int) -> None:
        import time

        from ...core.analysis import predict_probabilities
        from ...core.preprocess import prepare_digit

        start = time.perf_counter()
        model_input = prepare_digit(pixels)  # exactly what `mnist-tui predict` does to a file
        model = self.model
        probabilities = predict_probabilities(model, model_input[None])[0].tolist() if model is not None else None
        self.post_message(DrawPredicted(serial, model_input.numpy(), probabilities, time.perf_counter() - start))

    def on_draw_predicted(self, message: DrawPredicted) -> None:
        if message.serial != self._serial:
            return  # the drawing changed since; a newer prediction is on its way
        self.probabilities = message.probabilities
        self.model_input = message.model_input
        self.last_predict_seconds = message.seconds
        self._show_prediction()
        self._show_model_input()
        if self.model is not None:
            self.explainer.set_drawing(self.model_input)

    @property
    def predicted_class(self) -> int | None:
        if not self.probabilities:
            return None
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    def _show_prediction(self) -> None:
        best = self.predicted_class
        digits = self.query_one("#top-class", Digits)
        name = self.query_one("#top-name", Static)
        self.query_one(ProbabilityBars).show(self.probabilities)
        if best is None:
            digits.update("")
            name.update("draw a digit" if self.model is not None else "")
            return
        digits.update(str(best))
        label = self.class_names[best]
        confidence = short_percent(self.probabilities[best])  # never 100.0% short of certain
        name.update(Text.assemble((label, "bold"), f"  {confidence}") if label != str(best) else confidence)

    def _show_model_input(self) -> None:
        self.query_one("#model-input", Static).update(Text("\n").join(digit_text(self.model_input)))

    # -- explaining: attribution maps of the model input (the panel computes them in a worker) ------

    @property
    def explainer(self) -> DrawingExplainer:
        return self.query_one(DrawingExplainer)

    @property
    def explaining(self) -> bool:
        return self.has_class("explaining")

    def action_explain(self) -> None:
        """Show (or hide) the attribution maps in place of the probability bars, and of the model input they are
        drawn over (side by side they do not fit 80 columns): it comes back when they go."""
        box = self.query_one("#model-input-box")
        self._input_covered = box.has_class("shown") if not self.explaining else self._input_covered
        self._maps_covered = False
        self.set_class(not self.explaining, "explaining")
        box.set_class(not self.explaining and self._input_covered, "shown")
        self.explainer.set_active(self.explaining)
        if self.explaining:  # the "Saved …" note took the rows of the panel's keys at 80x24 (walk40 F9)
            self._clear_saved()

    def action_toggle_method(self) -> None:
        if self.explaining:
            self.explainer.toggle_method()

    def action_meant(self, digit: int) -> None:
        """The digit the user meant: its map goes beside the predicted one (pressed again: the runner-up)."""
        if digit >= len(self.class_names):
            return
        self.explainer.set_meant(None if self.explainer.meant == digit else digit)
        if not self.explaining:
            self.action_explain()

    # -- actions ----------------------------------------------------------------------------------

    def action_toggle_input(self) -> None:
        box = self.query_one("#model-input-box")
        if self.has_class("-narrow"):  # hidden there (its "shown" kept for when the terminal widens)
            self.notify(f"The model input shows from 80 columns wide ({self.size.width} here).", severity="warning")
        elif self.explaining:  # the input in place of the maps (side by side they do not fit 80 columns)
            self._input_covered = True
            self.action_explain()
            self._maps_covered = True
        elif self._maps_covered and box.has_class("shown"):  # the maps it took the place of come back
            box.remove_class("shown")
            self.action_explain()
        else:
            box.toggle_class("shown")

    def action_clear(self) -> None:
        self.canvas.clear()

    def action_brush(self, step: int) -> None:
        self.canvas.action_brush(step)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        """Write the drawing as a 28x28 grayscale PNG (light on dark) that ``mnist-tui predict`` reads."""
        if self.canvas.is_blank:
            self.notify("Nothing to save: draw a digit first.", severity="warning")
            return
        from PIL import Image

        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        try:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            path, n = self.save_dir / f"drawing-{stamp}.png", 1
            while path.exists():
                path, n = self.save_dir / f"drawing-{stamp}-{n}.png", n + 1
            Image.fromarray(self.canvas.pixels).save(path)  # uint8 2-D: mode L
        except OSError as exc:
            self.notify(f"Could not save the drawing: {exc}", severity="error")
            return
        self.last_saved = path
        shown = shown_path(path)
        # a toast where the note would take the rows of the maps' legend and keys (walk41 F11), or of the canvas
        if self.explaining or self.size.width < 80 or self.size.height < 24:  # (at 60x20, and cut: walk41 F12)
            room = min(60, self.size.width // 2) - 3  # a toast's text (it broke the command mid-word: walk42 D1)
            self.notify(f"{shown}\nread it again with:\n{predict_command(self.model_path, shown, room)}",
                        title="Drawing saved", timeout=10)
        else:  # no toast as well: it covered the command's end
            self._status(f"Saved {shown} · read it again with:\n{predict_command(self.model_path, shown)}")
        self._saved_pixels = self.canvas.pixels.copy()

    def system_commands(self) -> Iterable[SystemCommand]:
        """Draw's own actions in the command palette while the view is open."""
        yield SystemCommand("Draw: save png", "Write the drawing as a 28x28 PNG that mnist-tui predict reads (s)",
                            self.action_save)
        yield SystemCommand("Draw: explain the drawing (attribution maps)", "Which pixels pushed the model towards its "
                            "answer and towards the digit you meant (e; 0-9 say which)", self.action_explain)
        yield SystemCommand("Draw: brush bigger", f"A thicker brush (]; now {self.canvas.brush})",
                            lambda: self.action_brush(1))
        yield SystemCommand("Draw: brush smaller", f"A thinner brush ([; now {self.canvas.brush})",
                            lambda: self.action_brush(-1))
        yield SystemCommand("Draw: clear the drawing", "Start again on a blank canvas (c)", self.action_clear)
        yield SystemCommand("Draw: show the model input", "The 28x28 picture the model is given: the drawing "
                            "cropped, fitted to 20x20 and centred (i)", self.action_toggle_input)
        yield SystemCommand("Draw: explain method (integrated gradients / occlusion)",
                            f"Switch how the maps are worked out (m; now {self.explainer.method})",
                            self._palette_method)

    def _palette_method(self) -> None:
        if not self.explaining:
            self.action_explain()
        self.action_toggle_method()


def shown_path(path: Path) -> str:
    """``path`` relative to the working folder when it lies under it (short enough for 80 columns)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def predict_command(model_path: Path | None, picture: str, width: int = 78) -> str:
    """The ``mnist-tui predict`` line for a saved drawing, broken with ``\\`` to fit ``width`` columns: the run by
    name when ``mnist-tui`` would find it (./checkpoints), else by its path; quoted (walk39 F2: "my run")."""
    run = "RUN" if model_path is None else model_path.parent.name \
        if model_path.parent.parent.resolve() == Path("checkpoints").resolve() else shown_path(model_path.parent)
    run, picture = shlex.quote(run), shlex.quote(picture)
    if len(run) + len(picture) + 19 <= width:
        return f"mnist-tui predict {run} {picture}"
    indent = "  " if len(picture) + 2 <= width else ""  # (a toast's 37 columns: the path fills them)
    if len(run) + 20 <= width:
        return f"mnist-tui predict {run} \\\n{indent}{picture}"
    return f"mnist-tui predict \\\n{indent}{run} \\\n{indent}{picture}"


__all__ = ["DrawScreen", "ProbabilityBars", "default_model_candidates", "find_default_model", "predict_command"]
