"""The Draw view: canvas input (keys and mouse), live prediction, model input toggle, PNG export.

The model is a tiny MLP trained for real on the synthetic set, where class 1 is a
vertical bar and class 2 a horizontal bar, so a drawn stroke has a known answer.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from rich.color import Color
from rich.console import Console
from textual.app import App
from textual.widgets import Digits, Static

from mnist_tui.core.config import CLASS_NAMES
from mnist_tui.core.formatting import short_percent
from mnist_tui.tui.screens.draw import DrawScreen, find_default_model
from mnist_tui.tui.widgets.probability_bars import ProbabilityBars
from mnist_tui.tui.widgets.canvas import BRUSH_RADII, INK, Canvas
from mnist_tui.tui.widgets.footer import FittingFooter
from tests.tui.workers import workers_done
from tests.tui.test_app import palette as palette_command

SIZE = (80, 24)


@pytest.fixture(scope="module")
def trained_run(synthetic_data, tmp_path_factory) -> Path:
    """A run folder holding a tiny MLP trained on the synthetic shapes."""
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.engine import Trainer

    config = TrainConfig(model="mlp", hidden=(64,), epochs=3, batch_size=32, optimizer="adam", lr=3e-3,
                         schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)
    folder = tmp_path_factory.mktemp("draw-runs")
    events = list(Trainer(config, synthetic_data, checkpoints_dir=folder, run_name="shapes").run())
    assert events[-1].kind == "finished", events[-1]
    return folder / "shapes"


class DrawApp(App):
    """The smallest host for the screen under test."""

    def __init__(self, screen: DrawScreen) -> None:
        super().__init__()
        self.draw_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.draw_screen)


async def settle(pilot, app: App) -> None:
    """Wait for the model load / prediction workers and the messages they post."""
    for _ in range(3):
        await workers_done(app)
        await pilot.pause()


def screen_text(screen: DrawScreen) -> str:
    bars = screen.query_one(ProbabilityBars)
    return str(bars.render())


def make_screen(tmp_path: Path, model: Path | str | None) -> DrawScreen:
    return DrawScreen(model, checkpoints_dir=tmp_path / "checkpoints", save_dir=tmp_path / "drawings")


async def test_keyboard_strokes_are_read_live_and_clear_resets(trained_run, tmp_path):
    screen = make_screen(tmp_path, trained_run)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert screen.model is not None
        # a finished run is read through its reported checkpoint: last.pt (core.evaluation.run_checkpoint)
        assert "shapes/last.pt" in str(screen.query_one("#draw-title", Static).render())
        assert screen.probabilities is None and "-" in screen_text(screen)

        # a vertical stroke: up 8 rows from the centre, then paint 16 rows down
        await pilot.press(*["up"] * 8, *["shift+down"] * 16)
        await settle(pilot, app)
        assert screen.predicted_class == 1
        first = list(screen.probabilities)
        assert screen.query_one("#top-class", Digits).value == "1"
        assert short_percent(first[1]) in screen_text(screen)

        await pilot.press("c")
        await settle(pilot, app)
        assert screen.canvas.is_blank and screen.probabilities is None
        assert screen.query_one("#top-class", Digits).value == ""

        # a horizontal stroke reads as the other class: the probabilities follow the drawing
        await pilot.press(*["left"] * 8, *["shift+right"] * 16)
        await settle(pilot, app)
        assert screen.predicted_class == 2
        assert screen.probabilities != first


async def test_mouse_drag_paints_a_gapless_line_and_right_drag_erases(trained_run, tmp_path):
    screen = make_screen(tmp_path, trained_run)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        canvas = screen.canvas
        # offsets are relative to the widget, whose border is one cell: content starts at (1, 1)
        await pilot.mouse_down(canvas, offset=(14, 2))
        for row in (4, 8, 13):  # jumps of several rows: the stroke must fill between them
            await pilot.hover(canvas, offset=(14, row))
        await pilot.mouse_up(canvas, offset=(14, 13))
        await settle(pilot, app)
        inked_rows = np.nonzero(canvas.pixels[:, 13])[0]
        assert inked_rows.min() <= 3 and inked_rows.max() >= 24
        assert np.all(canvas.pixels[inked_rows.min():inked_rows.max() + 1, 13] == INK)  # no gaps
        assert screen.predicted_class == 1
        assert not screen.selections  # a drag draws; it does not select text as well

        before = int((canvas.pixels > 0).sum())
        await pilot.mouse_down(canvas, offset=(14, 7), button=3)
        await pilot.mouse_up(canvas, offset=(14, 7))
        await settle(pilot, app)
        assert int((canvas.pixels > 0).sum()) < before
        # the half-block rendering shows the drawing: full blocks where both pixels of a cell are ink
        lines = [line.plain for line in canvas.render_lines_text()]
        assert "█" in lines[10] and lines[6][13] != "█"


async def test_brush_size_space_and_backspace(trained_run, tmp_path):
    screen = make_screen(tmp_path, trained_run)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        canvas = screen.canvas
        assert canvas.brush == 2
        await pilot.press("left_square_bracket", "space")
        assert canvas.brush == 1 and int((canvas.pixels > 0).sum()) == 1
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket", "space")
        assert canvas.brush == 4 and int((canvas.pixels > 0).sum()) > 9
        assert "brush 4" in str(screen.query_one("#draw-help", Static).render())
        await pilot.press(*["right_square_bracket"] * 5)
        assert canvas.brush == max(BRUSH_RADII)
        await pilot.press("backspace")
        assert canvas.is_blank
        await settle(pilot, app)
        assert screen.probabilities is None


def marked_pixels(canvas) -> int:
    """How many pixels the canvas marks in the cursor's colours (each cell: a top and a bottom pixel)."""
    from mnist_tui.tui.widgets.canvas import BRUSH_COLOUR, CURSOR_COLOUR

    marks = {Color.parse(c) for c in (BRUSH_COLOUR, CURSOR_COLOUR)}
    count = 0
    for line in canvas.render_lines_text():
        for segment in line.render(Console()):
            if segment.style and segment.text.strip():
                count += len(segment.text) * ((segment.style.color in marks) + (segment.style.bgcolor in marks))
    return count


async def test_the_cursor_shows_what_space_will_paint_at_each_brush_size(trained_run, tmp_path):
    screen = make_screen(tmp_path, trained_run)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        canvas = screen.canvas
        await pilot.press("left_square_bracket")
        for size in range(1, 6):
            assert canvas.brush == size
            shown = marked_pixels(canvas)
            await pilot.press("space")
            assert shown == int((canvas.pixels > 0).sum()), size  # one cell was shown at every size
            await pilot.press("c", "right_square_bracket")


async def test_model_input_toggle_shows_the_preprocessed_digit(trained_run, tmp_path):
    from mnist_tui.core.preprocess import prepare_digit
    from mnist_tui.tui.widgets.digit_art import digit_lines

    screen = make_screen(tmp_path, trained_run)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        box = screen.query_one("#model-input-box")
        assert not box.display
        # a small digit drawn in a corner: the model sees it enlarged and centred
        drawing = np.zeros((28, 28), dtype=np.uint8)
        drawing[1:9, 2:4] = INK
        screen.canvas.set_pixels(drawing)
        await settle(pilot, app)
        await pilot.press("i")
        assert box.display
        expected = prepare_digit(drawing)
        assert np.array_equal(screen.model_input, expected.numpy())
        shown = str(screen.query_one("#model-input", Static).render()).splitlines()
        assert shown == digit_lines(expected)
        rows = np.nonzero(expected.numpy().max(axis=1) > 80)[0]
        assert rows.min() >= 3 and rows.max() <= 24 and rows.max() - rows.min() >= 15  # fitted to 20 rows
        await pilot.press("i")
        assert not box.display
        # the maps take the input's place at 80 columns; it came back only with another i (walk19 notes)
        await pilot.press("i", "e")
        await settle(pilot, app)
        assert screen.explaining and not box.display
        await pilot.press("e")
        await settle(pilot, app)
        assert not screen.explaining and box.display
        await pilot.press("i", "e", "i")  # i while the maps show: the input in their place
        await settle(pilot, app)
        assert not screen.explaining and box.display
        await pilot.press("i")  # and the maps come back when it goes
        await settle(pilot, app)
        assert screen.explaining and not box.display
        await pilot.press("e")  # then nothing: the input was put away
        await settle(pilot, app)
        assert not screen.explaining and not box.display


async def test_saved_png_is_read_by_predict_with_the_same_answer(trained_run, tmp_path, capsys):
    from mnist_tui.cli import main

    screen = make_screen(tmp_path, trained_run)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("s")  # nothing drawn yet: nothing saved
        assert screen.last_saved is None
        await pilot.press(*["up"] * 8, *["shift+down"] * 16)
        await settle(pilot, app)
        await pilot.press("s")
        saved = screen.last_saved
        assert saved is not None and saved.parent == tmp_path / "drawings"
        assert str(saved) in str(screen.query_one("#draw-status", Static).render())
        canvas = screen.query_one(Canvas)  # the last stroke's message, handled after a quick s: the note
        canvas.post_message(Canvas.Changed(canvas, canvas.pixels.copy()))  # went, and nothing said where the
        await settle(pilot, app)  # drawing was saved (walk25 F9)
        assert str(saved) in str(screen.query_one("#draw-status", Static).render())
        live, predicted = list(screen.probabilities), screen.predicted_class
        await pilot.press("c")  # the drawing it named is gone: so is the message (it stayed over the next one)
        await settle(pilot, app)
        assert "Saved" not in str(screen.query_one("#draw-status", Static).render())
    capsys.readouterr()
    assert main(["predict", str(trained_run), str(saved), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["predicted"] == 1 == predicted
    assert np.allclose(result["probabilities"], live, atol=1e-5)


async def test_a_missing_model_is_explained_and_drawing_still_works(tmp_path):
    screen = make_screen(tmp_path, tmp_path / "no-such-run")
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert screen.model is None
        assert "no-such-run" in str(screen.query_one("#draw-status", Static).render())
        await pilot.press("space")
        await settle(pilot, app)
        assert not screen.canvas.is_blank and screen.probabilities is None
        await pilot.press("i")  # what a model would be given is shown without one (it was left blank)
        from mnist_tui.core.preprocess import prepare_digit

        assert screen.model_input.any() and np.array_equal(screen.model_input, prepare_digit(screen.canvas.pixels))
        await pilot.press("escape")
        assert not isinstance(app.screen, DrawScreen)


async def test_default_model_is_the_shipped_one_and_class_names_follow_its_dataset(tmp_path):
    import torch

    from mnist_tui.core.checkpoints import save_checkpoint
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.models import build_model
    from mnist_tui.core.runs import DEFAULT_MODEL_RUN

    config = TrainConfig(model="mlp", hidden=(16,), dataset="fashion-mnist")
    torch.manual_seed(0)
    run = tmp_path / "checkpoints" / DEFAULT_MODEL_RUN
    save_checkpoint(run / "best.pt", model_state=build_model(config).state_dict(), config=config, epoch=1)
    assert find_default_model(tmp_path / "checkpoints") == run

    screen = make_screen(tmp_path, None)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert screen.model_path == run / "best.pt"
        assert "fashion-mnist" in str(screen.query_one("#draw-title", Static).render())
        screen.canvas.set_pixels(np.eye(28, dtype=np.uint8) * INK)
        await settle(pilot, app)
        names = CLASS_NAMES["fashion-mnist"]
        text = screen_text(screen)
        assert all(name in text for name in names)
        assert names[screen.predicted_class] in str(screen.query_one("#top-name", Static).render())


def test_canvas_brush_shapes_and_strokes():
    canvas = Canvas()
    canvas.brush = 1
    assert canvas.stamp(10.5, 10.5) and int((canvas.pixels > 0).sum()) == 1
    assert not canvas.stamp(10.5, 10.5)  # painting ink on ink changes nothing
    canvas.pixels[:] = 0
    canvas.brush = 2
    canvas.stamp(10.5, 10.5)
    assert int((canvas.pixels > 0).sum()) == 5  # a plus
    canvas.pixels[:] = 0
    canvas.brush = 1
    canvas.stroke((0.5, 0.5), (27.5, 27.5))
    assert np.array_equal(np.nonzero(canvas.pixels)[0], np.arange(28))  # the full diagonal, no gaps
    canvas.stamp(0.0, 0.0, value=0)  # erasing at the edge stays inside the canvas
    with pytest.raises(ValueError):
        canvas.set_pixels(np.zeros((20, 20)))


# -- why: attribution maps of the drawing ---------------------------------------------------------


class ExplainHost(DrawApp):
    """DrawApp that can wait for the explain panel's answers (its messages bubble up to the app)."""

    def __init__(self, screen: DrawScreen) -> None:
        super().__init__(screen)
        self._explained = asyncio.Event()

    def on_drawing_explainer_explained(self, message) -> None:
        self._explained.set()

    async def explanation(self, pilot, ready) -> object:
        """Wait (event-driven, 30 s at most) until the shown explanation is of the drawing now on the
        canvas and satisfies ``ready``."""
        explainer = self.draw_screen.explainer

        def current(shown) -> bool:
            return np.array_equal(np.array(shown.pixels), self.draw_screen.model_input) and ready(shown)

        async def arrived() -> None:
            while True:
                await workers_done(self)
                await pilot.pause()
                if explainer.explanation is not None and current(explainer.explanation):
                    return
                self._explained.clear()
                await self._explained.wait()

        await asyncio.wait_for(arrived(), 30)
        return explainer.explanation


def panel_lines(screen: DrawScreen) -> list[str]:
    return [strip.text for strip in screen.explainer.render_lines(screen.explainer.region.reset_offset)]


async def test_explain_maps_follow_the_drawing_and_the_digit_meant(trained_run, tmp_path):
    screen = make_screen(tmp_path, trained_run)
    app = ExplainHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await pilot.pause()
        assert "Draw a digit" in "".join(panel_lines(screen))
        assert not screen.query_one(ProbabilityBars).display  # the maps take the bars' place

        await pilot.press(*["up"] * 8, *["shift+down"] * 16)  # drawn while the panel is open: live
        shown = await app.explanation(pilot, lambda e: e.prediction == 1)
        assert shown.classes[0] == 1 and shown.meant is None
        maps = np.array(shown.maps)
        assert maps.shape == (2, 28, 28) and np.isfinite(maps).all() and np.abs(maps).max() > 0
        lines = panel_lines(screen)
        assert "predicted 1" in lines[1] and f"runner-up {shown.classes[1]}" in lines[1]
        # 80x24: two maps side by side beside the canvas, nothing cut off on the right
        explainer = screen.explainer
        assert explainer.region.right <= SIZE[0] and explainer.region.bottom <= SIZE[1] - 1
        art = lines[2:16]
        assert all(len(line.rstrip()) <= explainer.region.width for line in art)
        assert all(len(line.strip()) > 20 for line in art[4:10])  # both maps are there, cropped not dropped
        assert "towards" in lines[16] and "against" in lines[16]

        await pilot.press("2")  # "I meant a 2": its map replaces the runner-up's
        shown = await app.explanation(pilot, lambda e: e.meant == 2)
        assert shown.classes == [1, 2]
        assert "meant 2" in panel_lines(screen)[1]

        await pilot.press("m")  # occlusion (the default) -> integrated gradients
        shown = await app.explanation(pilot, lambda e: e.method == "ig")
        assert "integrated gradients" in panel_lines(screen)[0] and shown.classes == [1, 2]

        await pilot.press("c")  # a new drawing forgets the digit meant
        await settle(pilot, app)
        assert screen.explainer.meant is None and "Draw a digit" in "".join(panel_lines(screen))
        await pilot.press(*["left"] * 8, *["shift+right"] * 16)
        shown = await app.explanation(pilot, lambda e: e.prediction == 2)
        assert shown.meant is None

        await pilot.press("e")
        assert not explainer.display and screen.query_one(ProbabilityBars).display


async def test_explaining_is_rate_bounded_while_the_drawing_changes(trained_run, tmp_path, monkeypatch):
    from mnist_tui.tui.widgets import drawing_explainer

    monkeypatch.setattr(drawing_explainer, "EXPLAIN_INTERVAL", 3600.0)  # after one run, the next waits an hour
    screen = make_screen(tmp_path, trained_run)
    app = ExplainHost(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        bar = np.zeros((28, 28), dtype=np.uint8)
        bar[4:24, 13:15] = INK
        screen.canvas.set_pixels(bar)
        await settle(pilot, app)
        await pilot.press("e")
        first = await app.explanation(pilot, lambda e: e.prediction == 1)
        assert screen.explainer.runs == 1
        for width in range(5):  # five new drawings, each read by the model...
            flat = np.zeros((28, 28), dtype=np.uint8)
            flat[13:15, 4 + width:24] = INK
            screen.canvas.set_pixels(flat)
            await settle(pilot, app)
            assert screen.predicted_class == 2
        # ...but no second attribution run inside the interval; the panel keeps the last maps
        assert screen.explainer.runs == 1 and screen.explainer.explanation is first


@pytest.mark.parametrize("name", ["shapes", "my shapes"])
async def test_saved_note_fits_80_columns_and_its_command_reads_the_picture(name, trained_run, tmp_path, monkeypatch,
                                                                           capsys):
    """Pasted into a shell, the command reads the drawing: a run named with a space was not quoted (walk39 F2)."""
    import shlex
    import shutil

    from mnist_tui.cli import main
    from tests.tui.terminal import TerminalMirror

    shutil.copytree(trained_run, tmp_path / "checkpoints" / name)
    monkeypatch.chdir(tmp_path)
    screen = DrawScreen(f"checkpoints/{name}")  # the app's defaults: ./checkpoints, ./drawings
    app = DrawApp(screen)
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press(*["up"] * 8, *["shift+down"] * 16, "i", "s")  # beside the model input too
        await settle(pilot, app)
        status = screen.query_one("#draw-status", Static)
        text = str(status.render())
        lines = text.splitlines()
        # relative to where the app runs
        assert lines[0] == f"Saved drawings/{screen.last_saved.name} · read it again with:"
        assert status.region.bottom <= screen.query_one(FittingFooter).region.y  # all of it above the footer
        assert status.region.width >= 78
        assert not list(app._notifications)  # a toast covered the command's end for 5 s (walk25 F2)
        assert all(len(line) <= status.content_region.width for line in lines), lines  # no line wraps
        assert len(status.render_lines(status.region.reset_offset)) >= len(lines)
        command = shlex.split(text.split(":\n", 1)[1].replace("\\\n", " "))
        assert len(command) == 4 and len(lines) == 2  # the command on one line
        brush = screen.canvas.brush  # the note took the help's last rows: ] changed a brush no line showed
        await pilot.press("]")
        await settle(pilot, app)
        help_text = screen.query_one("#draw-help", Static)
        shown = [line.text for line in help_text.render_lines(help_text.region.reset_offset)]
        assert not status.display and any(f"brush {brush + 1} ([ smaller ] bigger)" in line for line in shown), shown
        await pilot.press("s", "e")  # saved again, then why: the note took the rows of the panel's keys (walk40 F9)
        await settle(pilot, app)
        explained = terminal.text()
    assert "0-9: the digit you meant" in explained and "Saved drawings" not in explained
    assert command[:3] == ["mnist-tui", "predict", name]
    capsys.readouterr()
    assert main([*command[1:], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["predicted"] == 1


async def test_a_long_run_name_is_cut_in_the_title_not_the_model_it_names(trained_run, tmp_path):
    """A 68-character run name wrapped the one-line title, which then read only "Draw ·" (walk39 F4)."""
    import shutil

    long = "zz-a-very-long-run-name-that-goes-on-and-on-for-quite-a-while-indeed"
    shutil.copytree(trained_run, tmp_path / long)
    screen = make_screen(tmp_path, tmp_path / long)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        title = screen.query_one("#draw-title", Static)
        line = title.render_line(0).text.strip()
        await pilot.resize_terminal(140, 30)  # with room, the whole name
        await settle(pilot, app)
        wide = title.render_line(0).text.strip()
    assert line.startswith("Draw · zz-a-very") and "…" in line, line
    assert line.endswith("-indeed/last.pt · mlp on mnist") and len(line) <= 78, line
    assert wide == f"Draw · {long}/last.pt · mlp on mnist", wide


async def open_draw(pilot, app) -> None:
    """f9 on the app once its start-up work is done, and Draw settled."""
    await workers_done(app)
    await pilot.pause()
    await pilot.press("f9")
    await settle(pilot, app)


async def test_draw_actions_are_in_the_command_palette(make_app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Save PNG writes ./drawings
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_draw(pilot, app)
        screen = app.screen
        assert isinstance(screen, DrawScreen)

        async def palette(words: str) -> None:
            await palette_command(pilot, words)
            await settle(pilot, app)

        await palette("brush bigger")
        assert screen.canvas.brush == 3
        await palette("brush smaller")
        await palette("brush smaller")
        assert screen.canvas.brush == 1
        screen.canvas.set_pixels(np.eye(28, dtype=np.uint8) * INK)
        await settle(pilot, app)
        # "draw:" keeps the app's own "save"/"clear" entries out of the first place (they tie on score)
        await palette("draw: save png")
        assert screen.last_saved is not None and screen.last_saved.is_file()
        assert screen.last_saved.parent.resolve() == (tmp_path / "drawings").resolve()
        await palette("draw: explain the")
        assert screen.explaining and screen.explainer.display
        await palette("draw: model input")
        assert screen.query_one("#model-input-box").display and not screen.explaining
        await palette("draw: clear")
        assert screen.canvas.is_blank


async def test_narrow_map_titles_keep_their_figures_whole(trained_run, tmp_path):
    """At 60x20 the titles read "predicted 1 9 runner-up 0 1": 97% and 1% cut to digits."""
    import re

    screen = make_screen(tmp_path, trained_run)
    app = ExplainHost(screen)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot, app)
        await pilot.press("e", *["up"] * 8, *["shift+down"] * 16)
        shown = await app.explanation(pilot, lambda e: e.prediction == 1)
        titles = panel_lines(screen)[1]
        assert re.fullmatch(r"\s*(\S+ )?1 >?[\d.]+%\s+(\S+ )?\d >?[\d.]+%\s*", titles), titles  # whole figures
        assert shown.classes[0] == 1


async def test_the_bars_never_round_a_reading_short_of_certain_up_to_100_percent():
    """A confident drawing read "100.0%" at p = 0.9996, as the misclassified digit's panel did."""
    from tests.tui.one_widget import OneWidget

    async with OneWidget(ProbabilityBars).run_test(size=(40, 12)) as pilot:
        bars = pilot.app.query_one(ProbabilityBars)
        bars.show([0.0002, 0.9996, 0.0002] + [0.0] * 7)
        await pilot.pause()
        lines = bars.render().plain.splitlines()
        assert lines[1].endswith(">99.9%") and "100" not in bars.render().plain, lines
        bars.show([1.0] + [0.0] * 9)
        await pilot.pause()
        assert bars.render().plain.splitlines()[0].endswith("100.0%")


async def test_below_80_columns_the_model_input_gives_way_to_the_reading(trained_run, tmp_path):
    """At 60 columns with the model input shown (i), the top class and the ten bars went off the right edge and
    nothing said so (walk25 F3): the reading stays, the input returns at 80 columns, i says why it does not show."""
    screen = make_screen(tmp_path, trained_run)
    app = DrawApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press(*["up"] * 8, *["shift+down"] * 16, "i")
        await settle(pilot, app)
        box, bars = screen.query_one("#model-input-box"), screen.query_one(ProbabilityBars)
        assert box.display and bars.region.right <= 80
        await pilot.resize_terminal(60, 20)
        await settle(pilot, app)
        narrow = (box.display, bars.region.width, bars.region.right)
        await pilot.press("i")
        await settle(pilot, app)
        said = [str(n.message) for n in app._notifications]
        await pilot.resize_terminal(80, 24)
        await settle(pilot, app)
        wide_again = box.display
    assert not narrow[0] and narrow[1] >= 18 and narrow[2] <= 60, narrow
    assert said[-1:] == ["The model input shows from 80 columns wide (60 here)."], said
    assert wide_again


async def test_the_tab_keys_leave_the_tab_under_draw_alone(make_app):
    """f3 over Draw switched the tab hidden under it: esc then left for Misclassified, not the Train view Draw
    was opened from (walk34 F1). Over Draw, as over Tune and Compare, f1-f4 do nothing, as f5 and f10 do."""
    from textual.widgets import TabbedContent

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_draw(pilot, app)
        drawing = isinstance(app.screen, DrawScreen)
        await pilot.press("f3", "f4")
        await pilot.pause()
        still = isinstance(app.screen, DrawScreen)
        await pilot.press("escape")
        await pilot.pause()
        tab = app.query_one(TabbedContent).active
    assert drawing and still and tab == "train"


async def test_the_drawing_stays_and_the_shipped_model_reads_it_again(make_app, tmp_path):
    """Once a run was loaded, only a restart took Draw back to the shipped model, and each opening cleared the
    canvas: one digit could not be read by two models (walk34 F11)."""
    import torch

    from mnist_tui.core.checkpoints import save_checkpoint
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.models import build_model
    from mnist_tui.core.runs import DEFAULT_MODEL_RUN
    from tests.tui.test_app import palette

    config = TrainConfig(model="mlp", hidden=(16,))
    torch.manual_seed(0)
    shipped = tmp_path / "runs" / DEFAULT_MODEL_RUN / "best.pt"
    save_checkpoint(shipped, model_state=build_model(config).state_dict(), config=config, epoch=1)
    drawing = np.eye(28, dtype=np.uint8) * INK
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_draw(pilot, app)
        app.screen.canvas.set_pixels(drawing)
        await settle(pilot, app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f9")
        await settle(pilot, app)
        kept = app.screen.canvas.pixels.copy()
        await palette(pilot, "Draw with the shipped model")  # from Draw itself: Draw again, read by it
        await settle(pilot, app)
        screen = app.screen
        again = screen.canvas.pixels.copy()
        model = screen.model_path
    assert isinstance(screen, DrawScreen) and model == shipped
    assert np.array_equal(kept, drawing) and np.array_equal(again, drawing)


async def test_saving_while_the_maps_show_keeps_their_legend_and_says_it_in_a_toast(trained_run, tmp_path,
                                                                                    monkeypatch):
    """e, then s: the "Saved …" note took the rows of the maps' legend and of "0-9: the digit you meant" while the
    maps stayed up (walk41 F11, the reverse of walk40 F9)."""
    import shutil

    from tests.tui.terminal import TerminalMirror

    shutil.copytree(trained_run, tmp_path / "checkpoints" / "shapes")
    monkeypatch.chdir(tmp_path)
    screen = DrawScreen("checkpoints/shapes")
    app = DrawApp(screen)
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press(*["up"] * 8, *["shift+down"] * 16, "e")
        await settle(pilot, app)
        before = terminal.text()
        await pilot.press("s")
        await settle(pilot, app)
        after = terminal.text()
        said = [str(n.message) for n in app._notifications]
    assert "0-9: the digit you meant" in before and "towards" in before
    assert "0-9: the digit you meant" in after and "towards" in after, after
    assert screen.last_saved is not None and screen.last_saved.is_file()
    lines = said[0].splitlines() if len(said) == 1 else said
    assert lines[:2] == [f"drawings/{screen.last_saved.name}", "read it again with:"], said
    # each line within the toast's text at 80 columns (it broke the path and the command mid-word: walk42 D1)
    assert lines[2].startswith("mnist-tui predict") and all(len(line) <= 37 for line in lines), lines


async def test_saving_on_a_small_terminal_keeps_the_canvas_whole_and_says_it_in_a_toast(trained_run, tmp_path,
                                                                                       monkeypatch):
    """At 60x20 the four-line "Saved …" note took the canvas's bottom rows and border, and its command was cut
    after the first "\\" (walk41 F12)."""
    import shutil

    from tests.tui.terminal import TerminalMirror

    shutil.copytree(trained_run, tmp_path / "checkpoints" / "shapes")
    monkeypatch.chdir(tmp_path)
    screen = DrawScreen("checkpoints/shapes")
    app = DrawApp(screen)
    terminal = TerminalMirror(app, (60, 20))
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(pilot, app)
        await pilot.press(*["up"] * 8, *["shift+down"] * 6, "s")
        await settle(pilot, app)
        lines = terminal.lines()
        said = [str(n.message) for n in app._notifications]
    assert any(line.lstrip().startswith("╰") for line in lines), "\n".join(lines)  # the canvas's bottom edge
    lines = said[0].splitlines() if len(said) == 1 else said
    assert lines[:2] == [f"drawings/{screen.last_saved.name}", "read it again with:"], said
    assert lines[2] == "mnist-tui predict shapes \\", lines  # the path alone is wider than a toast at 60 columns
