"""The learning-rate finder in the app (ctrl+l) at 80x24: a real `lr-find` child on the synthetic digits."""

from __future__ import annotations

import math
import shlex

import pytest
from textual.widgets import Input, Select, Static

from mnist_tui.cli import build_parser
from mnist_tui.commands.common import config_from_args
from mnist_tui.core.config import PRESETS, TrainConfig
from mnist_tui.core.tune_space import config_flags
from mnist_tui.core.formatting import rate_label, rate_ticks
from mnist_tui.tui.screens.lr_find import LrCurve, LrFindScreen
from mnist_tui.tui.widgets.dialogs import MessageScreen
from tests.tui.workers import workers_done

SIZE = (80, 24)


@pytest.mark.parametrize("config", [
    *PRESETS.values(),
    TrainConfig(model="mlp", hidden=(256, 128, 32), lr=0.0123456789, batchnorm=False, nesterov=True,
                optimizer="sgd", momentum=0.85, dataset="fashion-mnist", threads=1, val_size=100, seed=7),
    PRESETS["fast"].replace(batchnorm=False, lr=1.6e-3, weight_decay=1e-5, label_smoothing=0.05, ema=0.999),
], ids=[*PRESETS, "custom-mlp", "fast-edited"])
def test_config_flags_read_back_as_the_same_config(config):
    screen = LrFindScreen(config, data_dir="/data", steps=50)
    command = screen.args()
    assert command[0] == "lr-find" and command[-4:] == ["--steps", "50", "--data-dir", "/data"]
    args = build_parser().parse_args(command)
    assert config_from_args(args) == config
    assert args.json and args.steps == 50
    # the same flags, from any preset, through a shell
    for preset in PRESETS:
        text = shlex.join(["lr-find", *config_flags(config, preset)])
        assert config_from_args(build_parser().parse_args(shlex.split(text))) == config


def test_log_axis_ticks_read_as_rates():
    positions, labels = rate_ticks(-6, 0)
    assert labels == ["1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1"][::math.ceil(7 / 6)]
    assert positions == [float(p) for p in range(-6, 1, 2)]
    positions, labels = rate_ticks(math.log10(2e-3), math.log10(6e-3))  # inside one decade: 1-2-5 steps
    assert labels == ["0.002", "0.005"]
    assert rate_label(1.6e-4) == "2e-4" and rate_label(3e-3) == "0.003"


async def test_the_first_frame_reads_as_rates_over_the_whole_range():
    """With one point the x axis read -3.0 -4.5 -6.0 -7.5 -9.0: raw exponents, running backwards."""
    from textual.app import App

    class Host(App):
        def compose(self):
            yield LrCurve()

    async with Host().run_test(size=(80, 16)) as pilot:
        curve = pilot.app.query_one(LrCurve)
        curve.replot()  # before the first batches: the box was empty, no ticks (walk23 F1)
        await pilot.pause()
        lines = [line.text for line in curve.render_lines(curve.region.reset_offset)]
        assert lines[-2].split() == ["1e-6", "1e-4", "0.01", "1"], lines
        assert "reading the digits, then the first batches" in lines[0], lines
        curve.add_point(1e-6, 2.3)
        curve.replot()
        await pilot.pause()
        axis = [line.text for line in curve.render_lines(curve.region.reset_offset)][-2].split()
        assert axis == ["1e-6", "1e-4", "0.01", "1"]


async def open_finder(pilot, app) -> LrFindScreen:
    await workers_done(app)  # the dataset is loaded, the form valid
    await pilot.pause()
    await pilot.press("ctrl+l")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, LrFindScreen)
    await screen.reader.wait()  # the child has exited and its output is read
    while screen.found is None and screen.error is None:
        await pilot.pause()
    return screen


async def test_ctrl_l_finds_a_rate_and_enter_puts_it_in_the_form(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        form_before = app.query_one("#field-lr", Input).value
        screen = await open_finder(pilot, app)
        assert screen.error is None
        suggested = screen.suggested
        assert 1e-6 <= suggested <= 1 and suggested == float(f"{screen.found['suggested_lr']:.3g}")
        result = str(screen.query_one("#lr-result", Static).render())
        assert f"Suggested lr {suggested:g}" in result
        # as true with Close focused, where enter closes ("enter: use it in the form" was not: walk41 F10)
        assert result.endswith(" · enter on Use it puts it in the form, escape: close"), result
        assert f"lowest loss at lr {rate_label(screen.found['min_loss_lr'])}" in result  # "at 0.248" read as a loss
        curve = screen.query_one(LrCurve)
        assert curve.suggested[0] == screen.found["suggested_lr"] and len(curve.lrs) == screen.found["steps"]
        drawn = curve.render().plain  # what the chart shows: the title and the rate ticks
        assert curve.region.height >= 8 and f"suggested lr {rate_label(screen.found['suggested_lr'])}" in drawn
        assert "1e-6" in drawn or "1e-5" in drawn
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, LrFindScreen)
        value = app.query_one("#field-lr", Input).value
        assert float(value) == suggested and value != form_before
        assert not list(app.checkpoints_dir.glob("*/config.json"))  # the range test saved nothing


async def test_escape_closes_without_touching_the_form(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        before = app.query_one("#field-lr", Input).value
        await open_finder(pilot, app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LrFindScreen)
        assert app.query_one("#field-lr", Input).value == before


async def test_tab_reaches_close_and_enter_there_closes_without_touching_the_form(make_app):
    """Tab showed nothing on the buttons and enter then used the rate anyway (walk23 F2)."""
    from textual.widgets import Button

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        before = app.query_one("#field-lr", Input).value
        screen = await open_finder(pilot, app)
        assert screen.focused is screen.query_one("#lr-use", Button)  # enter uses it, as the result line says
        await pilot.press("tab")
        assert screen.focused is screen.query_one("#lr-close", Button)
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, LrFindScreen)
        assert app.query_one("#field-lr", Input).value == before


async def test_the_first_line_fits_80_columns_and_says_where_the_test_ends(synthetic_root, tiny_config):
    """It ended in "…" ("until the loss climbs…"), read as a sentence cut short at 80 columns (walk23 F1)."""
    from textual.app import App

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(LrFindScreen(tiny_config, data_dir=synthetic_root, steps=10_000))

    async with Host().run_test(size=SIZE) as pilot:
        line = pilot.app.screen.query_one("#lr-progress", Static)
        text = str(line.render())
        assert not text.endswith("…") and "1e-6 to 1" in text and len(text) <= line.content_region.width
        pilot.app.screen.action_close()


async def test_a_missing_dataset_is_shown_in_the_screen(make_app, tmp_path):
    app = make_app(data_dir=tmp_path / "nowhere")
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        if isinstance(app.screen, MessageScreen):  # the app says so at start; dismiss it
            await pilot.press("enter")
            await pilot.pause()
        screen = await open_finder(pilot, app)
        assert screen.found is None
        assert "Looked in" in screen.error and "Traceback" not in screen.error
        assert "Looked in" in str(screen.query_one("#lr-result", Static).render())
        assert screen.check_action("use", ()) is False
        await pilot.press("enter")  # nothing to use: the screen stays
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LrFindScreen)


async def test_escape_mid_test_kills_the_child(synthetic_root, tiny_config):
    """A long range test (10,000 steps) is killed when the screen closes; the screen reports nothing more."""
    import asyncio

    from textual.app import App

    closed: list = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(LrFindScreen(tiny_config, data_dir=synthetic_root, steps=10_000), closed.append)

    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        while not screen.query_one(LrCurve).lrs and screen.error is None:  # the child is stepping
            await pilot.pause()
        assert "step" in str(screen.query_one("#lr-progress", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert closed == [None]
        code = await asyncio.to_thread(screen.child.wait, 30)
        assert code != 0  # killed, not finished


async def test_no_suggestion_leaves_nothing_to_use(synthetic_root, tiny_config):
    """A range test whose loss only climbed put its diverged rate in the form on enter."""
    from textual.app import App

    closed: list = []

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(LrFindScreen(tiny_config, data_dir=synthetic_root, steps=50, lr_range=(5.0, 10.0)),
                             closed.append)

    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await screen.reader.wait()
        while screen.found is None and screen.error is None:
            await pilot.pause()
        assert screen.error is None and screen.suggested is None
        shown = str(screen.query_one("#lr-result", Static).render())
        assert shown.startswith("No suggestion: the loss climbed without falling first") and "enter" not in shown
        assert screen.query_one("#lr-use").disabled and screen.check_action("use", ()) is False
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and closed == []
        await pilot.press("escape")
        await pilot.pause()
        assert closed == [None]


async def test_the_header_is_shown_whole_at_80_columns(make_app):
    """fastcnn · adam · batch 256 (the tester's form): the header's last words show (it was cut mid-sentence)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        app.query_one("#field-model", Select).value = "fastcnn"
        app.query_one("#field-batch_size", Input).value = "256"
        await pilot.pause()
        await pilot.press("ctrl+l")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LrFindScreen) and screen.config.model == "fastcnn"
        title = screen.query_one("#lr-title", Static)
        wanted = " ".join(title.render().plain.split())
        shown = " ".join(" ".join(line.text for line in title.render_lines(title.region.reset_offset)).split())
        assert wanted.startswith("Find a learning rate · fastcnn · adam · batch 256") and shown == wanted
        await pilot.press("escape")  # kills the child: it saves nothing
        await pilot.pause()


async def test_the_finder_and_tune_open_over_an_empty_or_bad_learning_rate(make_app):
    """The finder exists to fill that field, and every default search covers it: both refused over it."""
    from mnist_tui.tui.screens.tune import TuneScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        lr = app.query_one("#field-lr", Input)
        for text in ("", "0"):
            lr.value = text
            await pilot.pause()
            await pilot.press("ctrl+l")
            await pilot.pause()
            assert isinstance(app.screen, LrFindScreen), text
            await pilot.press("escape")
            await workers_done(app)
            await pilot.pause()
            await pilot.press("f10")
            await pilot.pause()
            assert isinstance(app.screen, TuneScreen), text
            await pilot.press("escape")
            await pilot.pause()
        lr.value = "0.01"
        await pilot.pause()
        app.query_one("#field-epochs", Input).value = "0"  # any other field still refuses
        await pilot.pause()
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not isinstance(app.screen, LrFindScreen)


async def test_finding_a_rate_while_a_run_trains_asks_first(make_app):
    """ctrl+l during a run started the range test beside it, without a word: two trainings on one CPU."""
    from pathlib import Path

    from mnist_tui.tui.widgets.dialogs import ConfirmScreen
    from tests.tui.test_app import start_paused

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        await start_paused(pilot, app)
        run_name = Path(app.controller.run_dir).name
        seen = []
        for answer in ("n", "y"):
            await pilot.press("ctrl+l")
            await pilot.pause()
            seen.append((type(app.screen).__name__, getattr(app.screen, "title_text", None),
                         getattr(app.screen, "message", "")[:len(run_name) + 48]))
            if isinstance(app.screen, ConfirmScreen):
                await pilot.press(answer)
                await pilot.pause()
            seen.append(type(app.screen).__name__)
            if isinstance(app.screen, LrFindScreen):
                await pilot.press("escape")
                await pilot.pause()
        app.controller.stop()  # the paused run, before any assert: the app would wait for it
        await app.wait_for_event("stopped")
    asked = ("ConfirmScreen", "Find a learning rate while a run trains?",
             f"{run_name} is paused. The range test would share the CPU w")  # it said "training" (walk23 F7)
    assert seen == [asked, "MainScreen", asked, "LrFindScreen"], seen


async def test_a_run_that_ends_while_the_busy_question_waits_answers_it(make_app):
    """"Tune while a run trains?" (and the lr finder's) stayed up, saying the run trained, after it had ended
    (walk22 F2): the reason to ask is gone, so what was asked for starts."""
    from mnist_tui.tui.widgets.dialogs import ConfirmScreen
    from tests.tui.test_app import start_paused

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        await start_paused(pilot, app)
        await pilot.press("ctrl+l")
        await pilot.pause()
        asked = isinstance(app.screen, ConfirmScreen)
        app.controller.stop()  # the run ends under the question
        await app.wait_for_event("stopped")
        await workers_done(app, [w for w in app.workers if w.group == "training"])
        await pilot.pause()
        await pilot.pause()
        shown = type(app.screen).__name__
        if isinstance(app.screen, ConfirmScreen):
            await pilot.press("n")
        elif isinstance(app.screen, LrFindScreen):
            await pilot.press("escape")
        await pilot.pause()
    assert asked and shown == "LrFindScreen", shown


async def test_ctrl_l_opens_the_finder_from_tune_as_its_palette_entry_says(make_app):
    """The palette in Tune offered "Find learning rate ... (ctrl+l)", but ctrl+l there did nothing (walk23 F8)."""
    from tests.tui.test_tune_screen import open_tune_from_the_app

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_tune_from_the_app(pilot, app, "lr=5e-3:2e-2:log", "2")
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, LrFindScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "TuneScreen"


async def test_the_footer_names_what_enter_does_on_the_focused_button(make_app):
    """With a button focused its own enter binding (hidden) hid the screen's "enter Use it" from the footer."""
    from textual.widgets._footer import FooterKey

    def enter_in_footer(screen) -> list[str]:
        return [key.description for key in screen.query(FooterKey) if key.key == "enter"]

    async def footer_settles(pilot, screen, expected: list[str]) -> list[str]:
        """The footer rebuilds itself a few frames after focus moves: wait (bounded) for it to say `expected`."""
        for _ in range(100):
            await pilot.pause()
            if enter_in_footer(screen) == expected:
                break
        return enter_in_footer(screen)

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_finder(pilot, app)
        on_use = await footer_settles(pilot, screen, ["Use it"])
        await pilot.press("tab")
        on_close = await footer_settles(pilot, screen, ["Close"])
    assert on_use == ["Use it"] and on_close == ["Close"]


async def test_a_rate_used_from_tune_says_it_went_to_the_train_form_and_what_the_study_searches(make_app):
    """From Tune, "Use it" said "f5 trains with it", where f5 does nothing, and the study's lr= range was as it
    was (walk41 F7)."""
    from mnist_tui.tui.screens.tune import TuneScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.press("f10")
        await pilot.pause()
        app.screen.query_one("#tune-search", Input).value = "lr=1e-4:1e-2:log"
        screen = await open_finder(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        back_in_tune = isinstance(app.screen, TuneScreen)
    rate = f"{screen.suggested:.3g}"
    assert back_in_tune
    assert said[-1] == (f"learning rate {rate} in the Train form: esc, then f5 trains with it. The study searches "
                        "its own lr (lr=1e-4:1e-2:log)."), said
