"""Draw and Compare reached from the app itself: f9, the command palette, marking runs in Runs."""

from __future__ import annotations

import asyncio
import os
import re
import zipfile
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from mnist_tui.tui.screens.compare import CompareScreen
from mnist_tui.tui.screens.draw import DrawScreen
from mnist_tui.tui.panes.runs import RunsPane
from mnist_tui.tui.widgets.dialogs import NumberScreen
from tests.tui.test_app import palette
from tests.tui.workers import workers_done

SIZE = (80, 24)


def tiny_run(folder: Path, name: str, synthetic_data, **changes) -> Path:
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.engine import Trainer

    config = TrainConfig(model="mlp", hidden=(16,), epochs=1, batch_size=64, optimizer="adam", lr=3e-3,
                         schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1,
                         threads=1).replace(**changes)
    events = list(Trainer(config, synthetic_data, checkpoints_dir=folder, run_name=name).run())
    assert events[-1].kind == "finished"
    return folder / name


async def settle(pilot, app) -> None:
    for _ in range(3):
        await workers_done(app)
        await pilot.pause()


async def test_f9_opens_draw_and_escape_returns(make_app, tmp_path):
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f9")
        await settle(pilot, app)
        assert isinstance(app.screen, DrawScreen)
        assert app.screen.model_spec is None  # the shipped model, wherever it is found
        # the form and the charts are covered: their keys leave the footer and do nothing
        footer = " ".join(str(key.render()) for key in app.screen.query("FooterKey"))
        assert "Start" not in footer and "Chart" not in footer
        await pilot.press("f5")
        assert app.run_state == "idle"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DrawScreen)
        assert app.check_action("start", ()) is True


async def test_palette_lists_draw_and_compare(make_app):
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Draw a digit", "Draw with the selected run", "Compare runs"} <= set(titles)
        await palette(pilot, "draw a digit")
        await settle(pilot, app)
        assert isinstance(app.screen, DrawScreen)


async def test_mark_runs_then_compare_and_draw_with_one(make_app, synthetic_data, tmp_path):
    runs_dir = tmp_path / "runs"
    tiny_run(runs_dir, "alpha", synthetic_data)
    tiny_run(runs_dir, "beta", synthetic_data, lr=1e-2)
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f4")
        await settle(pilot, app)
        pane = app.query_one(RunsPane)
        assert len(pane.runs) == 2

        await pilot.press("c")  # nothing marked yet: explained, nothing opens
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)

        await pilot.press("m", "down", "space")
        assert {Path(p).name for p in pane.marked} == {"alpha", "beta"}
        table = app.query_one("#runs-table", DataTable)
        assert all(str(table.get_row_at(i)[0]).startswith("● ") for i in range(2))
        assert "2 marked" in str(app.query_one("#runs-status").render())

        await pilot.press("c")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert sorted(run.name for run in screen.runs) == ["alpha", "beta"]
        await pilot.press("escape")
        await pilot.pause()

        await pilot.press("space")  # unmark the one under the cursor
        assert len(pane.marked) == 1
        await pilot.press("w")
        await settle(pilot, app)
        assert isinstance(app.screen, DrawScreen)
        assert app.screen.model is not None and app.screen.model_path.parent == Path(pane.selected.path)


async def test_f9_draws_with_the_run_whose_results_are_shown(make_app, synthetic_data, tmp_path):
    """With a run's errors on screen, f9 opened Draw with the shipped model: not the one being looked at."""
    runs_dir = tmp_path / "runs"
    tiny_run(runs_dir, "alpha", synthetic_data)
    tiny_run(runs_dir, "beta", synthetic_data, lr=1e-2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f4")
        await settle(pilot, app)
        pane = app.query_one(RunsPane)
        table = app.query_one("#runs-table", DataTable)
        table.move_cursor(row=[run.name for run in pane.runs].index("beta"))
        await pilot.press("l")  # its results and its wrong digits
        await settle(pilot, app)
        await pilot.press("f3", "f9")
        await settle(pilot, app)
        assert isinstance(app.screen, DrawScreen)
        assert app.screen.model is not None and app.screen.model_path.parent == runs_dir / "beta"


@pytest.mark.parametrize("panel", ["e", "n"])
async def test_back_on_misclassified_with_why_or_nearest_open_the_keys_still_work(make_app, synthetic_data,
                                                                                   tmp_path, panel):
    """f4 then f3 with Why (or Nearest) open: the panel showed, the footer lost its keys and every key was dead."""
    from mnist_tui.tui.panes.misclassified import MisclassifiedPane

    tiny_run(tmp_path / "runs", "alpha", synthetic_data)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f4", "l")
        await settle(pilot, app)
        pane = app.query_one(MisclassifiedPane)
        await pilot.press("f3", panel)
        await settle(pilot, app)
        assert pane.insight is not None
        first = pane._insight_index
        await pilot.press("f4", "f3")
        await settle(pilot, app)
        assert pane in app.focused.ancestors_with_self
        await pilot.press("right")  # the next digit, in the same panel
        await settle(pilot, app)
        assert pane.insight is not None and pane._insight_index != first
        await pilot.press("escape")
        await settle(pilot, app)
        assert pane.insight is None


async def test_dataset_choice_trains_and_evaluates_on_that_dataset(make_app, synthetic_root, tmp_path):
    import json
    import shutil

    from textual.widgets import Select

    root = tmp_path / "data"
    shutil.copytree(synthetic_root / "MNIST", root / "MNIST")
    shutil.copytree(synthetic_root / "MNIST", root / "FashionMNIST")  # the same files, in Fashion-MNIST's folder
    app = make_app(data_dir=root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.data.dataset == "mnist"
        app.query_one("#field-dataset", Select).value = "fashion-mnist"
        await pilot.pause()
        app.query_one("#preset", Select).value = "lenet5"  # a preset keeps the chosen dataset
        await pilot.pause()
        assert app.query_one("#field-dataset", Select).value == "fashion-mnist"
        assert app.query_one("#field-model", Select).value == "lenet5"
        app.query_one("#preset", Select).value = "seed-mlp"
        await pilot.pause()
        for name, text in (("epochs", "1"), ("val_size", "100")):
            app.query_one(f"#field-{name}").value = text
        await pilot.pause()
        await pilot.press("f5")
        await app.wait_for_event("finished")
        await settle(pilot, app)
        run = next(p for p in app.checkpoints_dir.iterdir() if p.is_dir())
        assert json.loads((run / "config.json").read_text())["dataset"] == "fashion-mnist"
        assert app.evaluation is not None and len(app.evaluation.labels) == 200
        # labels are shown by name: the confusion rows, the misclassified filter and detail
        from mnist_tui.tui.panes.misclassified import MisclassifiedPane
        from mnist_tui.tui.widgets.confusion import ConfusionTable
        from mnist_tui.tui.widgets.digit_grid import DigitDetail

        confusion = app.query_one(ConfusionTable)
        assert [str(confusion.get_row_at(i)[0]) for i in (0, 9)] == ["0 T-shirt/top", "9 Ankle boot"]
        pane = app.query_one(MisclassifiedPane)
        pane.set_filter(9, None)
        await pilot.pause()
        assert "true 9 Ankle boot" in str(app.query_one("#wrong-bar").render())
        from mnist_tui.core.analysis import Misclassified

        detail = app.query_one(DigitDetail)
        detail.show(Misclassified(0, 9, 7, 0.8, [(7, 0.8), (9, 0.15), (5, 0.05)]), None, pane.class_names)
        assert "Ankle boot → Sneaker" in str(detail.render())


async def test_the_stop_question_closes_when_the_run_ends_before_it_is_answered(make_app):
    from mnist_tui.tui.widgets.dialogs import ConfirmScreen
    from tests.tui.test_app import asked_to_stop_a_paused_run, run_to_completion

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await asked_to_stop_a_paused_run(pilot, app, "1")
        app.controller.resume()  # the run goes on (as it would had it not been paused) and finishes
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        assert not isinstance(app.screen, ConfirmScreen)  # no question about a run that has ended
        assert "Finished" in str(app.query_one("#progress").render())
        await pilot.press("y")  # a late answer stops nothing and says nothing is wrong
        await pilot.pause()
        assert app.run_state == "idle" and app.events_seen[-1] == "finished"


async def test_escape_closes_the_keys_panel(make_app):
    """The palette's "Help: keys of this view" docks Textual's help panel; escape closes it (it did nothing)."""
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for tab in ("f1", "f4"):  # with the form focused, and the runs table
            await pilot.press(tab)
            await palette(pilot, "help: keys of this view")
            await settle(pilot, app)
            assert app.screen.query("HelpPanel"), tab
            await pilot.press("escape")
            await pilot.pause()
            assert not app.screen.query("HelpPanel"), tab
        await pilot.press("f9")  # a view's own escape still works once the panel is closed
        await settle(pilot, app)
        await palette(pilot, "help: keys of this view")
        await settle(pilot, app)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DrawScreen) and not app.screen.query("HelpPanel")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DrawScreen)


async def test_question_mark_opens_and_closes_the_keys_panel_but_a_field_takes_it(make_app):
    """"?" did nothing: the keys panel was only in the palette."""
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for tab in ("f4", "f2"):  # the runs table, the results
            await pilot.press(tab)
            await settle(pilot, app)
            await pilot.press("question_mark")
            await settle(pilot, app)
            assert app.screen.query("HelpPanel"), tab
            await pilot.press("question_mark")
            await settle(pilot, app)
            assert not app.screen.query("HelpPanel"), tab
        await pilot.press("f1")
        await settle(pilot, app)
        field = app.query_one("#field-run_name", Input)
        field.focus()
        await pilot.press("end", "question_mark")
        await settle(pilot, app)
        assert field.value.endswith("?") and not app.screen.query("HelpPanel")
        epochs = app.query_one("#field-epochs", Input)
        epochs.focus()
        await pilot.press("end", "question_mark")  # a number field refuses it, and it does not open the panel
        await settle(pilot, app)
        assert epochs.value == "1" and not app.screen.query("HelpPanel")


async def keys_panel_lines(pilot, app, terminal, key: str) -> list[str]:
    """Press ``key`` (a tab), then ?: the keys panel's lines as the terminal shows them."""
    for pressed in (key, "question_mark"):
        await pilot.press(pressed)
        await settle(pilot, app)
    left = app.screen.query_one("HelpPanel").region.x
    return [line[left:] for line in terminal.lines()]


async def test_the_keys_panel_at_80x24_shows_the_views_own_keys_not_scrolling(make_app):
    """At 80x24 "?" on the form listed Show menu, Scroll Left, Scroll Right, Scroll Home ... Page Right,
    Focus Next, Copy: f5 Start and the rest lay below the bottom edge."""
    from tests.tui.terminal import TerminalMirror

    app = make_app(load_data_on_start=False)
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for tab, wanted in (("f1", ("Start", "Log loss", "Quit", "Tune")),
                            ("f4", ("Load", "Resume", "Mark", "Quit", "Tune", "palette"))):
            text = "\n".join(await keys_panel_lines(pilot, app, terminal, tab))
            assert all(word in text for word in wanted), text  # on screen, not below its edge
            assert not any(word in text for word in ("Scroll", "Page", "Focus Next", "Copy", "First", "Last")), text
            await pilot.press("question_mark")
            await settle(pilot, app)


async def test_the_keys_panel_says_in_words_what_the_footers_abbreviations_do(make_app):
    """The panel repeated the footer's short labels, "d Del", "c Cmp", "i Cfg", "f Form", and wrapped
    "^p palette Open the / command palette" over two lines at 80x24."""
    from tests.tui.terminal import TerminalMirror

    app = make_app(load_data_on_start=False)
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        rows = [line.strip("▏ ▇") for line in await keys_panel_lines(pilot, app, terminal, "f4")]
        for row in ("d Delete the run", "c Compare marked runs", "i Show its config", "f Config to the form",
                    "^p Command palette", "m Mark (or space)"):  # (space was not listed: walk40 F12)
            assert row in rows, rows
        assert "Del" not in rows and not any(row.startswith("command palette") for row in rows), rows


async def test_the_runs_keys_panel_lists_load_once(make_app):
    """It listed "⏎ Load" at the top and "l Load" below it (walk41 F19), where Mark reads "m Mark (or space)"."""
    from tests.tui.terminal import TerminalMirror

    app = make_app(load_data_on_start=False)
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        rows = [line.strip("▏ ▇") for line in await keys_panel_lines(pilot, app, terminal, "f4")]
        assert [row for row in rows if "Load" in row] == ["l Load the run (or ⏎)"], rows


async def test_the_keys_panel_offers_the_views_escape_and_what_enter_does_there(make_app, synthetic_data, tmp_path):
    """Compare's panel said "⏎ Select" (enter does nothing there) and no view's panel said "esc Back": the app's
    escape, which closes the panel, stood in for it."""
    from tests.tui.terminal import TerminalMirror

    runs = tmp_path / "runs"
    for name in ("a", "b"):
        tiny_run(runs, name, synthetic_data)
    app = make_app(checkpoints_dir=runs, load_data_on_start=False)
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        rows = [line.strip("▏ ▇") for line in await keys_panel_lines(pilot, app, terminal, "f4")]
        assert "l Load the run (or ⏎)" in rows and "⏎ Select" not in rows, rows  # the Runs table: enter loads too
        await pilot.press("question_mark")
        for key in ("m", "down", "m", "c"):
            await pilot.press(key)
            await settle(pilot, app)
        assert type(app.screen).__name__ == "CompareScreen"
        await pilot.press("question_mark")
        await settle(pilot, app)
        left = app.screen.query_one("HelpPanel").region.x
        rows = [line[left:].strip("▏ ▇") for line in terminal.lines()]
        assert "esc Back" in rows and not any("Select" in row for row in rows), rows
        await pilot.press("escape")  # the first closes the panel, the second goes back
        await settle(pilot, app)
        assert type(app.screen).__name__ == "CompareScreen" and not app.screen.query("HelpPanel")
        await pilot.press("escape")
        await settle(pilot, app)
        assert type(app.screen).__name__ != "CompareScreen"


async def test_a_failed_resume_names_the_run_within_80_columns(make_app, synthetic_data, tmp_path):
    """The progress line said "Failed: /long/path/to/runs/broken/last.pt is not a usable checkpo…"."""
    from mnist_tui.tui.widgets.progress import ProgressLine

    runs = tmp_path / "a-checkpoints-folder-somewhere-deep-in-the-tree"
    tiny_run(runs, "good", synthetic_data)
    tiny_run(runs, "broken", synthetic_data)  # the newer: the first row
    (runs / "broken" / "best.pt").unlink()
    with zipfile.ZipFile(runs / "broken" / "last.pt", "w") as damaged:  # whole as a zip (listed), no checkpoint
        damaged.writestr("archive/data.pkl", b"not a checkpoint any more")
    app = make_app(checkpoints_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f4")
        await settle(pilot, app)
        await pilot.press("r", "enter")  # a finished run: train it one more epoch
        line = app.query_one(ProgressLine)
        for _ in range(200):
            await settle(pilot, app)
            if line.progress.state == "failed":
                break
        shown = line.render_lines(line.region.reset_offset)[0].text.rstrip()
        assert shown.strip() == "Failed: broken/last.pt is not a usable checkpoint: corrupt or truncated", shown
        await pilot.press("f4", "down", "l")  # another run loaded: the failure stayed over it for minutes (walk33 F4)
        await settle(pilot, app)
        after = line.render_lines(line.region.reset_offset)[0].text.strip()
    assert after == "Ready · MNIST 600 train / 200 test · f5 start · ctrl+p commands", after


async def shown_failure(pilot, app) -> str:
    """The progress line as the screen shows it, once the run has failed."""
    from mnist_tui.tui.widgets.progress import ProgressLine

    line = app.query_one(ProgressLine)
    for _ in range(200):
        await settle(pilot, app)
        if line.progress.state == "failed":
            break
    return line.render_lines(line.region.reset_offset)[0].text.strip()


async def test_a_read_only_checkpoints_folder_is_said_in_the_clis_words_for_new_and_resumed_runs(
        make_app, synthetic_data, tmp_path, read_only):
    """It said "Failed: OSError: [Errno 30] Read-only …" (f5) and "OSError: ... '.../r/.lock'" (resume)."""
    from tests.conftest import files_in

    runs = tmp_path / "runs"
    tiny_run(runs, "r", synthetic_data)
    before = files_in(runs)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        read_only(runs)
        erofs = "Read-only file system"
        await pilot.press("f5")
        assert await shown_failure(pilot, app) == f"Failed: cannot write in the checkpoints folder: {erofs}"
        assert list(app._notifications)[-1].message == f"{runs}: cannot write in the checkpoints folder: {erofs}"
        await pilot.press("f4")
        await settle(pilot, app)
        await pilot.press("r")  # a finished run: refused before "Train more epochs?" is asked for nothing
        await pilot.pause()
        assert not isinstance(app.screen, NumberScreen)
        assert list(app._notifications)[-1].message == f"{runs / 'r'}: cannot write in the run folder: {erofs}"
        assert app.run_state == "idle"
        app.query_one(RunsPane).post_message(RunsPane.ResumeRequested(app.query_one(RunsPane).selected, 1))
        await settle(pilot, app)  # and if it is asked all the same (from elsewhere), the run says so
        assert await shown_failure(pilot, app) == f"Failed: r: cannot write in the run folder: {erofs}"
        assert app.run_state == "idle"
    assert files_in(runs) == before


async def test_the_palettes_preset_command_puts_the_keys_on_the_preset_picker(make_app):
    """From the Train view itself it did nothing (it only switched to Train)."""
    from textual.widgets import Input, Select

    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.query_one("#field-epochs", Input).focus()
        await pilot.pause()
        await palette(pilot, "preset: pick")
        await settle(pilot, app)
        assert app.focused is app.query_one("#preset", Select)
        await pilot.press("f4")
        await palette(pilot, "preset: pick")  # and from another view
        await settle(pilot, app)
        assert app.query_one("#tabs").active == "train" and app.focused is app.query_one("#preset", Select)


async def test_palette_entries_say_or_show_what_they_did(make_app, tmp_path, monkeypatch):
    """"Next chart" changed a chart on a hidden view; "Resume training" at idle did nothing and said nothing;
    "Screenshot" failed wherever ~/Downloads does not exist."""
    from mnist_tui.tui.widgets.charts import AccuracyChart

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no Downloads folder there
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f3")
        await palette(pilot, "next chart")
        await settle(pilot, app)
        assert app.query_one("#tabs").active == "train" and app.query_one(AccuracyChart).display
        await palette(pilot, "resume training")
        assert "No run is paused" in str(list(app._notifications)[-1].message)
        await palette(pilot, "screenshot")
        await workers_done(app)
        async with asyncio.timeout(30):
            while not list(tmp_path.glob("*.svg")):
                await pilot.pause(0.1)
        assert "<svg" in next(tmp_path.glob("*.svg")).read_text()


async def test_runs_keys_with_every_run_filtered_out_name_the_filter(make_app, synthetic_data, tmp_path):
    tiny_run(tmp_path / "runs", "r", synthetic_data)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f4")
        await settle(pilot, app)
        await pilot.press("slash", *"zzz", "enter", "l")
        await pilot.pause()
        assert str(list(app._notifications)[-1].message) == "No run holds “zzz” (esc clears the filter)."


async def test_a_device_this_machine_lacks_is_said_without_the_exception_name(make_app):
    """The CLI refused --device cuda in one line; the app showed "Failed: RuntimeError: device cuda ..."."""
    import pytest
    import torch

    from mnist_tui.tui.widgets.hparam_form import HParamForm

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        form = app.query_one(HParamForm)
        form.set_config(form.read()[0].replace(device="cuda"))
        await settle(pilot, app)
        await pilot.press("f5")
        assert await shown_failure(pilot, app) == "Failed: device cuda was asked for but torch sees no CUDA GPU"


async def start_on_a_missing_dataset(pilot, app) -> None:
    """fashion-mnist (the synthetic data folder holds MNIST only), f5, and enter on the message that says so."""
    from textual.widgets import Select

    from mnist_tui.tui.widgets.dialogs import MessageScreen

    app.query_one("#field-dataset", Select).value = "fashion-mnist"
    await pilot.pause()
    await pilot.press("f5")
    for _ in range(200):
        await settle(pilot, app)
        if isinstance(app.screen, MessageScreen):
            break
    await pilot.press("enter")


async def test_a_missing_datasets_failure_goes_once_the_form_changes(make_app):
    """It stayed on the line after picking mnist again, and came back each time a form error was fixed."""
    from textual.widgets import Input, Select

    from mnist_tui.tui.widgets.progress import ProgressLine

    app = make_app()  # the synthetic data folder holds MNIST only
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        line = app.query_one(ProgressLine)
        await start_on_a_missing_dataset(pilot, app)
        await pilot.pause()
        # which dataset, and what to do: "(see the message)" stayed after the message was gone (walk36 F4)
        assert line.progress.message == "Fashion-MNIST could not be loaded · pick another dataset, or --data-dir"
        # the field the message points at has the keys (it was Start: enter opened the same message again)
        assert app.focused is app.query_one("#field-dataset", Select)
        app.query_one("#field-dataset", Select).value = "mnist"
        await pilot.pause()
        # and the digits in memory are said again ("Ready · f5 start" stayed for the session: walk40 F6)
        assert line.progress.message == "Ready · MNIST 600 train / 200 test · f5 start · ctrl+p commands"
        hidden = app.query_one("#field-hidden", Input)
        hidden.value = "12,x"
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        assert line.progress.message.startswith("Cannot start: hidden")
        hidden.value = "128"
        await pilot.pause()
        assert "could not be loaded" not in line.progress.message  # it came back here


async def test_deleting_the_run_the_status_line_names_updates_it_and_the_quit_message(make_app, synthetic_data):
    """Deleted in Runs, a stopped run still headed the status line ("Stopped ... f5"), and quitting printed
    how to resume it."""
    from mnist_tui.tui.widgets.progress import ProgressLine
    from mnist_tui.tui.widgets.dialogs import ConfirmScreen
    from tests.tui.test_app import asked_to_stop_a_paused_run, ready, the_run

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await asked_to_stop_a_paused_run(pilot, app, "2")
        await pilot.press("y")
        await app.wait_for_event("stopped")
        await ready(pilot, app)
        run = the_run(app)
        assert run.name in str(app.query_one(ProgressLine).render()) and app.run_view.quit_message
        await pilot.press("f4")
        await ready(pilot, app)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await ready(pilot, app)
        assert not run.exists()
        assert str(app.query_one(ProgressLine).render()).strip().startswith(f"{run.name} was deleted")
        assert app.run_view.quit_message is None
        # Train's charts let its curves go too (they stayed, under a title naming no run; walk29 F5)
        charted = [(len(chart.train), chart.waiting) for chart in app.train_pane.charts]
        assert charted == [(0, f"{run.name} was deleted")] * 3, charted
        # and once another run is loaded it stops standing over that run's results (it stayed for minutes)
        tiny_run(app.checkpoints_dir, "another", synthetic_data)
        for key in ("ctrl+r", "l"):
            await pilot.press(key)
            await ready(pilot, app)
        said = str(app.query_one(ProgressLine).render()).strip()
        assert said.startswith("Ready · MNIST 600 train / 200 test · f5 start"), said


async def test_loading_another_run_lets_the_finished_runs_status_go(make_app, synthetic_data):
    """"Finished RUN · test … · f2 Results · f3 Misclassified" stayed over another run loaded from Runs, whose
    results f2 and f3 then showed (walk31 F7)."""
    from mnist_tui.tui.widgets.progress import ProgressLine
    from tests.tui.test_app import a_finished_run, ready

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await a_finished_run(pilot, app)
        finished = str(app.query_one(ProgressLine).render()).strip()
        tiny_run(app.checkpoints_dir, "another", synthetic_data)
        await pilot.press("f4")
        await ready(pilot, app)
        await pilot.press("ctrl+r")
        await ready(pilot, app)
        pane = app.query_one(RunsPane)
        app.query_one("#runs-table").move_cursor(row=[run.name for run in pane.runs].index("another"))
        await pilot.press("l")
        await ready(pilot, app)
        said = str(app.query_one(ProgressLine).render()).strip(), str(app.query_one("#results-summary").render())
    assert finished.startswith("Finished ") and "f2 Results" in finished, finished
    assert said[1].startswith("another") and said[0].startswith("Ready · MNIST 600 train / 200 test · f5 start"), said


async def test_the_draw_keys_panel_names_what_shift_arrows_do(make_app):
    """The keys panel (?) listed shift+↑ … shift+→ with no words beside them."""
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("f9")
        await settle(pilot, app)
        assert isinstance(app.screen, DrawScreen)
        await pilot.press("question_mark")
        await settle(pilot, app)
        from rich.console import Console

        console = Console(width=60, record=True, file=open(os.devnull, "w"))
        console.print(app.screen.query_one("HelpPanel").query_one("BindingsTable").render())
        text = console.export_text()
        assert all(f"Paint {way}" in text for way in ("up", "down", "left", "right")), text
        # and 0-9 (Explain's "the digit you meant") were ten rows of bare digits: one row, described
        assert any("0-9 Digit you meant" in line for line in text.splitlines()), text


@pytest.mark.parametrize("schedule, steered, exported, said", [
    ("constant", None, False, "the learning rate stays 0.003"),
    ("onecycle", None, False, "restarts at 0.0003, a tenth of its peak"),
    # steered x2 while it trained, it restarted at 0.0006, as the added epochs keep the steering
    ("onecycle", 2.0, False, "restarts at 0.0006, a tenth of its peak (×2 as steered), and decays again"),
    # r removed the run's model.onnx (export's, made of the weights it then trained on) without a word; the CLI's
    # train --resume says so (walk31 F2)
    ("constant", None, True, "done's model.onnx describes its weights before this training: it goes once it saves "
                             "(export again after)."),
])
async def test_train_more_epochs_says_what_this_runs_schedule_does(make_app, synthetic_data, tmp_path, schedule,
                                                                   steered, exported, said):
    """It said the rate restarts at a tenth of its peak for every run: a constant one stays at its rate."""
    from mnist_tui.core import runs as core_runs

    runs = tmp_path / "runs"
    tiny_run(runs, "done", synthetic_data, schedule=schedule)
    if steered:  # as the engine records a steer
        core_runs.append_event(runs / "done", {"lr_factor": steered, "epoch": 1, "step": 3, "global_step": 3})
    if exported:
        (runs / "done" / "model.onnx").write_bytes(b"an exported model")
    app = make_app(checkpoints_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f4")
        await settle(pilot, app)
        await pilot.press("r")
        await settle(pilot, app)
        assert isinstance(app.screen, NumberScreen)
        text = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert said in " ".join(text.split())


async def test_a_toast_leaves_the_status_line_readable(make_app):
    """A toast covered the right half of the status line (and what the run was doing) for its 5 seconds."""
    from tests.tui.terminal import TerminalMirror

    from mnist_tui.tui.widgets.progress import ProgressLine

    app = make_app(load_data_on_start=False)
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot, app)
        app.set_progress(state="idle", message="Ready · a status line that runs all the way to the right edge ....")
        app.notify("A toast with enough words in it to take two lines of its box, or more, at 80 columns.")
        await settle(pilot, app)
        line = app.query_one(ProgressLine)
        row = terminal.lines()[line.region.y]
        assert row.strip() == str(line.render()).strip() and "right edge" in row, terminal.text()
        assert "A toast with enough" in terminal.text()  # shown, above the line


async def test_a_run_paused_resumed_or_stopped_under_draw_says_so_there(make_app):
    """In Draw, f6 and f7 changed only the footer's key: nothing said the run was paused, or had stopped, until
    escape showed the status line (walk25 F12)."""
    from tests.tui.test_app import ready, set_field, start_paused

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "50")
        await start_paused(pilot, app)
        name = Path(app.controller.run_dir).name
        await pilot.press("f9")
        await pilot.pause()
        assert isinstance(app.screen, DrawScreen)
        app.action_resume()
        await app.wait_for_event("resumed")
        app.action_pause()
        await app.wait_for_event("paused", count=2)
        await pilot.pause()
        paused = [str(n.message) for n in app._notifications]
        await pilot.press("f7", "y")  # "Stop training?" over Draw
        await app.wait_for_event("stopped")
        await pilot.pause()
        stopped = [str(n.message) for n in app._notifications]
        assert isinstance(app.screen, DrawScreen)
    assert paused[-1:] == [f"{name} is paused · f6 resumes"], paused
    assert f"{name} is training again" not in paused  # replaced, not stacked
    # (in epoch N, or after epoch N when the pause fell on an epoch's end, as on a busy machine)
    assert re.match(rf"Stopped {name} (in epoch \d+ after step \d+|after epoch \d+) · saved ", stopped[-1]), stopped


async def test_misclassifieds_sort_and_filter_keys_show_once_there_are_digits(make_app, synthetic_data, tmp_path):
    """With nothing loaded, its footer offered s Sort, t True, p Pred and c Clear, which did nothing (walk29 F13)."""
    from tests.tui.terminal import TerminalMirror

    run = tiny_run(tmp_path / "runs", "r1", synthetic_data)
    app = make_app()
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f3")
        await pilot.pause()
        empty = terminal.lines()[-1]
        app.load_run(run)
        await settle(pilot, app)
        await pilot.press("f3")
        await settle(pilot, app)
        loaded = terminal.lines()[-1]
    assert "Sort" not in empty and "Clear" not in empty and "Quit" in empty, empty
    assert "s Sort" in loaded and "t True" in loaded and "c Clear" in loaded, loaded


async def test_a_start_that_never_began_leaves_the_last_runs_curves(make_app):
    """f5 with a missing dataset: the charts of the run just trained said "no run yet: f5 starts one" (walk34 F2)."""
    from tests.tui.test_app import a_finished_run

    app = make_app()  # the synthetic data folder holds MNIST only
    async with app.run_test(size=SIZE) as pilot:
        await a_finished_run(pilot, app)
        before = [(list(chart.train.ys), list(chart.val.ys)) for chart in app.train_pane.charts]
        await start_on_a_missing_dataset(pilot, app)
        await settle(pilot, app)
        after = [(list(chart.train.ys), list(chart.val.ys)) for chart in app.train_pane.charts]
        waiting = [chart.waiting for chart in app.train_pane.charts]
    assert before[0][0] and after == before
    assert "starting…" not in waiting


def test_what_the_app_says_as_it_closes_is_printed_on_lines_of_its_own(monkeypatch, capsys, tmp_path):
    """Textual's exit message went through Rich, which wrapped the resume command at 80 columns: a copied first
    line lost its --data-dir (walk34 F6). The launcher prints it as it is."""
    from mnist_tui import cli
    from mnist_tui.tui.app import MnistApp

    said = ("Stopped fastcnn-20261206-175838 in epoch 1 after step 28 · saved " + "/a/long/folder" * 4 + "/last.pt\n"
            "Resume with: mnist-tui train --resume " + "/a/long/folder" * 4 + " --data-dir /work/shared/data")
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.headless_driver:HeadlessDriver")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(MnistApp, "run", lambda self, *args, **kwargs: said)
    assert cli.main(["--checkpoints", str(tmp_path)]) == 0
    assert capsys.readouterr().out == said + "\n"


async def test_a_run_that_ends_at_chance_says_the_network_collapsed(make_app, settings_path):
    """A run steered to a learning rate too high ended at 11.35%, every digit read "1", under a plain "Finished"
    (walk36 F3). Here a learning rate too low to move the weights leaves the network as guessing."""
    from mnist_tui.core.config import PRESETS
    from mnist_tui.tui.settings import save_form
    from mnist_tui.tui.widgets.progress import ProgressLine

    save_form(settings_path, None, PRESETS["seed-mlp"].replace(val_size=100, threads=1, lr=1e-9))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        message = app.query_one(ProgressLine).progress.message
        toasts = [(n.title, n.severity, n.message) for n in app._notifications]
    assert message.startswith("Finished") and ", chance level ·" in message, message
    assert any(title == "Finished" and severity == "warning" and "no better than guessing" in text
               for title, severity, text in toasts), toasts


def test_every_key_the_keys_panel_lists_says_what_it_does():
    """Tune's panel listed a bare "^t" (its second ctrl+t, the one that says where an attached study stops, had no
    words, walk37 F2). A key without words is only right in a family whose first key has them (Draw's 0-9)."""
    import importlib
    import inspect
    import pkgutil

    from textual.binding import Binding
    from textual.dom import DOMNode

    import mnist_tui.tui
    from mnist_tui.tui.widgets.keys_panel import in_words, moves_only

    bare = []
    for module in pkgutil.walk_packages(mnist_tui.tui.__path__, "mnist_tui.tui."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            bindings = [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)] \
                if issubclass(cls, DOMNode) and cls.__module__ == module.name else []
            for k, binding in enumerate(bindings):
                family = {b.action.partition("(")[0] for b in bindings[:k] if in_words(b)}
                if not (moves_only(binding) or in_words(binding) or binding.action.partition("(")[0] in family):
                    bare.append((cls.__name__, binding.key, binding.action))
    assert not bare, bare


async def test_f4_moves_the_tab_underline_at_once(make_app, monkeypatch):
    """The underline slid to the new tab over 0.3 s, the screen drawn again for each step (over SSH, each a
    frame sent): a tab switch cost 0.3 s of CPU here. Animations are off unless TEXTUAL_ANIMATIONS asks."""
    from textual.widgets._tabs import Underline

    monkeypatch.delenv("TEXTUAL_ANIMATIONS", raising=False)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        underline = app.query_one(Underline)
        starts: list[float] = []
        app.watch(underline, "highlight_start", lambda start: starts.append(start), init=False)
        await pilot.press("f4")
        await settle(pilot, app)
        under_runs = app.screen.get_widget_at(underline.region.x + int(underline.highlight_start), 0)[0]
    assert len(starts) == 1, starts  # one step
    assert "Runs" in str(under_runs.render()), under_runs


async def test_why_with_no_run_loaded_says_to_load_one(make_app):
    """e in Misclassified before any run said "Select a misclassified digit first.", with nothing to select
    (walk40 F11)."""
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("f3", "e")
        await settle(pilot, app)
        said = [str(n.message) for n in app._notifications]
    assert said == ["No run loaded: finish a run, or load one from Runs (f4)."], said


async def test_the_main_views_keys_in_a_view_above_it_say_esc_first(make_app, tmp_path):
    """f1-f4, f5, f9, f10 and ctrl+l did nothing, without a word, in Draw, Tune and Compare (walk41 F17)."""
    app = make_app(load_data_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for opens, view, keys in (("f9", "DrawScreen", ("f4", "f10", "ctrl+l")), ("f10", "TuneScreen", ("f1", "f9"))):
            await pilot.press(opens)
            await settle(pilot, app)
            assert type(app.screen).__name__ == view
            for key in keys:
                app.clear_notifications()
                await pilot.press(key)
                await settle(pilot, app)
                said = [str(n.message) for n in app._notifications]
                assert type(app.screen).__name__ == view and len(said) == 1 and "esc" in said[0], (key, said)
            await pilot.press("escape")
            await settle(pilot, app)
        assert str(list(app._notifications)[-1].message) == "f9 (Draw) works in the main view: esc first, then f9", \
            list(app._notifications)


async def test_compares_chart_titles_show_beside_the_keys_panel(make_app, synthetic_data, tmp_path):
    """With ? open at 80x24 (here at 70 columns, as these runs' ticks are short) the left chart's title,
    "Validation accuracy %", was dropped: too wide for the chart (walk41 F12)."""
    runs = tmp_path / "runs"
    for name, lr in (("a", 3e-3), ("b", 1e-2)):
        tiny_run(runs, name, synthetic_data, lr=lr)
    app = make_app(checkpoints_dir=runs, load_data_on_start=False)
    async with app.run_test(size=(70, 24)) as pilot:
        await settle(pilot, app)
        for key in ("f4", "m", "down", "m", "c", "question_mark"):
            await pilot.press(key)
            await settle(pilot, app)
        accuracy, loss = (app.screen.query_one(f"#compare-{name}").render().plain for name in ("accuracy", "loss"))
    assert any(title in accuracy for title in ("Validation accuracy %", "Val accuracy %", "Val acc %")), accuracy
    assert any(title in loss for title in ("Validation loss", "Val loss")), loss


async def test_a_question_shows_its_own_keys_in_the_footer(make_app, synthetic_data, tmp_path):
    """Under "Delete run?" the footer still listed the Runs view's keys (l Load, r Resume...), which do nothing
    while the question is up (walk39 F9)."""
    from tests.tui.terminal import TerminalMirror

    runs = tmp_path / "runs"
    tiny_run(runs, "a", synthetic_data)
    app = make_app(checkpoints_dir=runs, load_data_on_start=False)
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        for key in ("f4", "d"):
            await pilot.press(key)
            await settle(pilot, app)
        assert type(app.screen).__name__ == "ConfirmScreen"
        footer = terminal.lines()[-1]
    assert "y Yes" in footer and "n No" in footer and "Load" not in footer and "Resume" not in footer, footer


async def test_a_pause_draws_the_points_that_came_since_the_last_redraw(make_app, monkeypatch):
    """Charts redraw at most once a second as points arrive: the points of the last second before a pause were
    drawn only when the run went on, and a run paused early still read "waiting for the first batches…" (walk42
    D6)."""
    from mnist_tui.core.events import Paused, StepMetrics
    from mnist_tui.tui.panes import train
    from tests.tui.test_app import ready, start_paused

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await start_paused(pilot, app)  # a real run, paused before its first batch
        monkeypatch.setattr(train, "CHART_REFRESH_S", 1e9)  # no redraw as points arrive: what the last second saw
        points = [StepMetrics(1, step, 10, step, 2.0 / step, 0.1 * step, 1e-3, 1000.0, 0.1 * step)
                  for step in (1, 2, 3)]
        app.run_view.show(points)
        await pilot.pause()
        loss = app.train_pane.charts[0]
        assert loss.dirty  # the points are in, not drawn
        app.run_view.show([Paused(1, 3)])  # as the paused run would say it again
        await pilot.pause()
        drawn = not loss.dirty
        app.controller.stop()
        await app.wait_for_event("stopped")
    assert drawn, "the pause drew the points"
