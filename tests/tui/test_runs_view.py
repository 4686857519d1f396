"""The Runs view at 80x24: sort by a column, filter by text, a run's full config, its config into the form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable, Input, Static, TabbedContent

from mnist_tui.core.config import TrainConfig, field_label
from mnist_tui.tui.panes.runs import RunsPane
from mnist_tui.tui.widgets.runs_table import COLUMN_LABELS
from mnist_tui.tui.screens.run_config import UNUSED, RunConfigScreen
from tests.tui.test_app import SIZE, palette, ready
from tests.tui.workers import workers_done

BASE = TrainConfig(model="mlp", hidden=(16,), epochs=1, batch_size=64, optimizer="adam", lr=3e-3, schedule="constant",
                   weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)
RUNS = {  # name: config, trained oldest first
    "alpha-mlp": BASE,
    "zeta-mlp": BASE.replace(lr=1e-2, epochs=2),
    "small-cnn": BASE.replace(model="cnn", width=4, lr=2e-3, batch_size=128),
}


@pytest.fixture
def runs_folder(synthetic_data, tmp_path) -> Path:
    """Three real runs, in the folder the app under test lists."""
    from mnist_tui.core.engine import Trainer

    folder = tmp_path / "runs"
    for name, config in RUNS.items():
        events = list(Trainer(config, synthetic_data, checkpoints_dir=folder, run_name=name).run())
        assert events[-1].kind == "finished"
    return folder


def names(app) -> list[str]:
    return [run.name for run in app.query_one(RunsPane).runs]


def shown_names(table: DataTable) -> list[str]:
    return [str(table.get_row_at(i)[0]).strip(" ●") for i in range(table.row_count)]


def status(app) -> str:
    return str(app.query_one("#runs-status", Static).render())


async def open_runs(pilot, app, rows: int = len(RUNS)) -> DataTable:
    """f4 on the ready app: the Runs table, holding ``rows`` runs (the three-run fixture's by default)."""
    await ready(pilot, app)
    await pilot.press("f4")
    await ready(pilot, app)
    table = app.query_one("#runs-table", DataTable)
    assert app.focused is table and table.row_count == rows
    return table


async def test_s_sorts_by_the_next_column_and_S_reverses(make_app, runs_folder):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        assert "newest first (s)" in status(app)
        await pilot.press("s")  # date -> run name, A to Z
        assert shown_names(table) == sorted(RUNS) == names(app)
        assert "by run ▲" in status(app) and str(table.columns["name"].label) == "run ▲"
        await pilot.press("S")
        assert shown_names(table) == sorted(RUNS, reverse=True) and "by run ▼" in status(app)
        for _ in range(3):  # state, model, epochs (most first)
            await pilot.press("s")
        assert "by epochs ▼" in status(app) and shown_names(table)[0] == "zeta-mlp"
        await pilot.press("s", "s", "s")  # best val, test, lr (smallest first)
        assert "by lr ▲" in status(app)
        assert shown_names(table) == ["small-cnn", "alpha-mlp", "zeta-mlp"]
        # the cursor's run stays selected through a re-sort, and actions follow the row shown
        table.move_cursor(row=2)
        await pilot.press("S")
        assert app.query_one(RunsPane).selected.name == "zeta-mlp" and table.cursor_row == 0
        # the palette has it too
        await palette(pilot, "sort runs")
        assert "by batch" in status(app)


async def test_slash_filters_by_name_model_or_state_and_escape_clears(make_app, runs_folder):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        await pilot.press("slash")
        field = app.query_one("#runs-filter", Input)
        assert field.display and app.focused is field
        await pilot.press(*"cnn")
        assert shown_names(table) == ["small-cnn"] and "1 of 3" in status(app)
        await pilot.press("enter")
        assert app.focused is table and app.query_one(RunsPane).selected.name == "small-cnn"
        await pilot.press("slash", "ctrl+u", *"MLP")  # any case; the model column matches
        assert sorted(shown_names(table)) == ["alpha-mlp", "zeta-mlp"]
        await pilot.press("ctrl+u", *"finished")  # the state column
        assert len(shown_names(table)) == 3
        await pilot.press("ctrl+u", *"nothing-like-this")
        assert shown_names(table) == [] and "0 of 3" in status(app)
        await pilot.press("escape")
        assert not field.display and field.value == "" and len(shown_names(table)) == 3
        assert app.focused is table and "3 runs in" in status(app)


async def test_i_shows_every_config_field_under_the_forms_labels(make_app, runs_folder):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        table.move_cursor(row=names(app).index("small-cnn"))
        await pilot.press("i")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunConfigScreen)
        console = Console(width=76, record=True)
        console.print(screen.query_one("#config-table", Static).content)
        text = console.export_text()
        for name in ("batch_size", "lr", "width", "hidden", "beta2", "seed", "dataset"):
            assert field_label(name) in text, name
        lines = {line.strip() for line in text.splitlines()}
        assert any(line.startswith(f"{field_label('width')} ") and " 4 " in f"{line} " for line in lines), text
        assert f"128,64 {UNUSED}" not in text and f"16 {UNUSED}" in text  # an mlp's layers: unused by a cnn
        dialog = screen.query_one("RunConfigScreen > Vertical")
        assert app.screen.region.contains_region(dialog.region)  # fits 80x24, buttons included
        assert dialog.region.contains_region(screen.query_one("#close").region)
        await pilot.resize_terminal(60, 20)  # the fields' 17 rows pushed the buttons off it (walk25 F10)
        await pilot.pause()
        narrow = [screen.query_one(part).region for part in ("#close", "#to-form", "#config-note")]
        await pilot.press("escape")
        assert not isinstance(app.screen, RunConfigScreen)
    assert all(region.bottom <= 20 and region.height for region in narrow), narrow


async def test_f_loads_the_runs_config_into_the_form(make_app, runs_folder):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        table.move_cursor(row=names(app).index("zeta-mlp"))
        await pilot.press("f")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "train"
        assert app.query_one("#field-lr", Input).value == "0.01" and app.query_one("#field-epochs", Input).value == "2"
        assert any("zeta-mlp" in str(n.message) for n in app._notifications)
        # from the config dialog too
        await pilot.press("f4")
        await ready(pilot, app)
        table.move_cursor(row=names(app).index("small-cnn"))
        await pilot.press("i")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert app.query_one(TabbedContent).active == "train"
        assert app.query_one("#field-model").value == "cnn" and app.query_one("#field-width", Input).value == "4"


async def test_f_on_a_run_trained_more_epochs_gives_the_form_its_first_schedule(make_app, runs_folder,
                                                                               synthetic_data):
    """Its config's epochs are the total: the form took 3 for zeta-mlp (2 epochs, then 1 more), one schedule
    that trains another run (walk29 F15). The form gets the first schedule's 2, and the notice says why."""
    from mnist_tui.core.engine import Trainer

    list(Trainer(None, synthetic_data, checkpoints_dir=runs_folder, resume=runs_folder / "zeta-mlp",
                 extra_epochs=1).run())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        table.move_cursor(row=names(app).index("zeta-mlp"))
        await pilot.press("i")
        await pilot.pause()
        title = str(app.screen.query_one(".dialog-title", Static).render())
        await pilot.press("f")
        await pilot.pause()
        epochs = app.query_one("#field-epochs", Input).value
        said = [str(n.message) for n in app._notifications]
    assert title == "zeta-mlp: config (2 epochs, then 1 more)"
    assert epochs == "2"
    assert any("zeta-mlp's config with its first 2 epochs (1 more was added to it: r in Runs does that)" in text
               for text in said), said


def test_config_requested_carries_the_config_and_the_name():
    message = RunsPane.ConfigRequested(BASE, "alpha-mlp")
    assert message.config is BASE and message.name == "alpha-mlp"


async def test_home_end_move_the_cursor_and_a_run_another_process_adds_leaves_it(make_app, runs_folder,
                                                                                 synthetic_data):
    from mnist_tui.core.engine import Trainer

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        pane = app.query_one(RunsPane)
        await pilot.press("end")
        assert table.cursor_row == 2 and pane.selected.name == names(app)[2]
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("end")
        await pilot.press("slash", *"mlp", "home")  # in the filter's text, home is the text's start
        field = app.query_one("#runs-filter", Input)
        assert field.cursor_position == 0 and field.value == "mlp"
        await pilot.press("escape")
        before = pane.selected.name
        # a run another process trains meanwhile (the CLI, a Tune worker) is listed, and the cursor stays on the
        # run it was on: it went to the new one, where d, r or w then acted on a run not picked (walk41 F3)
        list(Trainer(BASE.replace(seed=2), synthetic_data, checkpoints_dir=runs_folder, run_name="newest").run())
        await pilot.press("ctrl+r")
        await ready(pilot, app)
        assert "newest" in names(app) and pane.selected.name == before, (before, pane.selected.name)
        assert table.cursor_row == names(app).index(before)


async def test_f_names_the_preset_a_runs_config_equals_whatever_preset_the_form_had(make_app, runs_folder):
    import json

    from mnist_tui.core.config import PRESETS
    from textual.widgets import Select

    # as `mnist-tui train --preset seed-mlp` saves it (its 5,000 validation digits do not fit the synthetic set)
    config_file = runs_folder / "alpha-mlp" / "config.json"
    config_file.write_text(json.dumps(PRESETS["seed-mlp"].to_dict()))
    app = make_app(preset="fast")  # the form starts from another preset
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        picker = app.query_one("#preset", Select)
        assert picker.value == "fast"
        table = await open_runs(pilot, app)
        table.move_cursor(row=names(app).index("alpha-mlp"))
        await pilot.press("f")
        await pilot.pause()
        assert app.query_one("#field-model").value == "mlp" and app.query_one("#field-hidden", Input).value == "128,64"
        assert picker.value == "seed-mlp" and "seed-mlp" in str(picker.query_one("SelectCurrent #label").render())
        await pilot.press("f4")  # a run that is no preset reads (custom)
        await ready(pilot, app)
        table.move_cursor(row=names(app).index("zeta-mlp"))
        await pilot.press("f")
        await pilot.pause()
        assert picker.value == Select.NULL and "(custom)" in str(picker.query_one("SelectCurrent #label").render())


async def test_f_shows_the_form_from_its_top_whichever_field_had_the_keys(make_app, runs_folder):
    from mnist_tui.tui.widgets.hparam_form import HParamForm

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        form = app.query_one(HParamForm)
        form.query("Select, Input").last().focus()  # the last field: the form scrolls down to it
        await pilot.pause()
        assert form.scroll_y > 0
        table = await open_runs(pilot, app)
        table.move_cursor(row=names(app).index("zeta-mlp"))
        await pilot.press("f")
        await pilot.pause()
        assert form.scroll_y == 0  # the loaded config is read from its first field
        assert app.focused is form.query("Select, Input").first()


def table_lines(table: DataTable) -> list[str]:
    """The table's lines as it draws them on screen (header first)."""
    return [table.render_line(y).text.rstrip() for y in range(table.row_count + 1)]


async def test_columns_stay_sized_to_their_content_through_filter_changes(make_app, runs_folder):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        header = table_lines(table)[0]
        assert header.split()[:8] == ["run", "state", "model", "epochs", "best", "val", "test", "lr"]

        def shows_whole_cells() -> None:
            lines = table_lines(table)
            assert re.sub(" [▼▲]", "  ", lines[0]).startswith(header[:40]), lines  # the columns keep their widths
            for line, run in zip(lines[1:], app.query_one(RunsPane).runs):
                assert re.search(rf"^ [● ] {run.name} +finished +{run.model} +{run.epochs_done}/{run.epochs} ", line), lines

        await pilot.press("slash", *"cnn")
        await ready(pilot, app)
        shows_whole_cells()
        await pilot.press("enter")
        await ready(pilot, app)
        shows_whole_cells()
        await pilot.press("escape")
        await ready(pilot, app)
        shows_whole_cells()
        await pilot.press("slash", *"zeta", "enter", "slash", "ctrl+u", *"alpha", "enter")
        await ready(pilot, app)
        shows_whole_cells()
        await pilot.press("s", "S")  # a new sort order too
        await ready(pilot, app)
        shows_whole_cells()


async def test_the_header_says_how_many_marked_runs_the_filter_hides(make_app, runs_folder):
    from mnist_tui.tui.screens.compare import CompareScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        await pilot.press("slash", *"mlp", "enter", "m", "down", "m")  # both mlp runs
        assert "2 marked (c compares)" in status(app)
        await pilot.press("slash", "ctrl+u", *"cnn", "enter")
        assert shown_names(table) == ["small-cnn"]
        assert "2 marked, 2 hidden by the filter (c compares all 2)" in status(app)
        await pilot.press("m")
        assert "3 marked, 2 hidden by the filter (c compares all 3)" in status(app)
        await pilot.press("c")  # the hidden ones too, as the header says
        await ready(pilot, app)
        assert isinstance(app.screen, CompareScreen) and len(app.screen.runs) == 3
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")  # the filter goes: all marked runs are shown
        assert "3 marked (c compares)" in status(app) and "hidden" not in status(app)


async def test_a_run_stopped_in_its_first_epoch_shows_the_time_it_trained(make_app, synthetic_data, tmp_path):
    from mnist_tui.core.checkpoints import load_checkpoint
    from mnist_tui.core.engine import RunControl, Trainer
    from mnist_tui.core.events import StepMetrics
    from mnist_tui.tui.widgets.progress import format_duration

    # batch 1 through a cnn: 500 steps an epoch; stopped past the middle of the first (no clock is read)
    slow = BASE.replace(model="cnn", width=32, batch_size=1, epochs=2)
    control = RunControl()
    stopped_at = None
    for event in Trainer(slow, synthetic_data, checkpoints_dir=tmp_path / "runs", run_name="stopped-early").run(control):
        if isinstance(event, StepMetrics) and stopped_at is None and event.step >= event.steps_per_epoch // 2:
            assert event.epoch == 1
            stopped_at = event.elapsed_s
            control.stop()
    epoch_seconds = load_checkpoint(tmp_path / "runs" / "stopped-early" / "last.pt")["epoch_seconds"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=1)
        run = app.query_one(RunsPane).runs[0]
        assert run.state == "stopped" and run.epochs_done == 0
        # to its last chart point, not 0 (its seconds are written to 3 decimals: 0.49998 s of epoch read 0.5)
        assert 0 < round(stopped_at, 3) <= run.train_seconds <= round(epoch_seconds, 3) + 5e-4
        time_cell = str(table.get_row_at(0)[[c.key.value for c in table.ordered_columns].index("time")])
        assert time_cell == format_duration(run.train_seconds)


async def test_compare_with_unreadable_runs_marked_says_they_cannot_be_compared(make_app, runs_folder):
    """Three marked, one readable: it said 'Mark two or more runs with m (or space), then press c.'"""
    for name in ("broken", "empty"):
        (runs_folder / name).mkdir()
    (runs_folder / "broken" / "config.json").write_text("{ not json")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=len(RUNS) + 2)
        for name in ("broken", "empty", "small-cnn"):
            table.move_cursor(row=shown_names(table).index(name))
            await pilot.press("m")
        assert "3 marked (c compares)" in status(app)
        await pilot.press("c")
        await pilot.pause()
        assert [str(n.message) for n in app._notifications][-1] == (
            "broken and empty cannot be read, so cannot be compared: mark two or more readable runs.")


async def test_a_finished_runs_test_cell_is_its_figure_alone_as_runs_writes_it(make_app, runs_folder):
    """'99.14% last (epoch 1)' took 21 columns at 80 and pushed lr, batch, time and date off the screen."""
    from mnist_tui.core.formatting import percent
    from mnist_tui.core.runs import read_run

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        for row in range(table.row_count):
            run = read_run(runs_folder / shown_names(table)[row])
            assert str(table.get_row_at(row)[5]) == percent(run.test_accuracy)


async def test_a_run_trained_by_another_process_is_followed_until_it_ends(make_app, runs_folder):
    """Its row said "training" until ctrl+r, long after the other app's run had finished."""
    import asyncio

    from mnist_tui.core import run_lock

    held = run_lock.acquire(runs_folder / "zeta-mlp")  # as that other process holds it while it trains
    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)

        def state() -> str:
            return str(table.get_row_at(names(app).index("zeta-mlp"))[1])

        assert state() == "training"
        held.release()
        async with asyncio.timeout(30):
            while state() == "training":  # read again while the view is up; no key pressed
                await pilot.pause(0.1)
        assert state() == "finished"


async def test_right_and_left_scroll_a_column_at_a_time_and_the_names_stay(make_app, runs_folder):
    # a cell at a time, the date column took ~25 presses at 80 columns, and the run names scrolled away
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        assert "date" not in table_lines(table)[0]  # at 80 columns the last columns are off-screen
        await pilot.press("right")
        await ready(pilot, app)
        lines = table_lines(table)
        assert lines[0].split()[:3] == ["run", "←", "model"], lines  # state is scrolled past, the names stay
        assert "date" in lines[0], lines
        for line, run in zip(lines[1:], app.query_one(RunsPane).runs):
            assert re.search(rf"^ [● ] {run.name} +{run.model} +{run.epochs_done}/{run.epochs} ", line), lines
        await pilot.press("left")
        await ready(pilot, app)
        assert table_lines(table)[0].split()[:3] == ["run", "state", "model"]


async def test_sorting_keeps_the_columns_scrolled_to(make_app, runs_folder):
    """Scrolled right, s sorted and the view jumped back to the first columns (walk28 F9)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        await pilot.press("right")
        await ready(pilot, app)
        before = table_lines(table)[0].split()[:3]
        await pilot.press("s")
        await ready(pilot, app)
        after = [word for word in table_lines(table)[0].split() if word not in "▲▼"][:3]  # sorted by run name
    assert before == after == ["run", "←", "model"], (before, after)


async def test_the_sorted_column_is_brought_into_view(make_app, runs_folder):
    """At 80 columns the last columns lie past the right edge: s sorted by one of them, and the arrow that says
    so, unseen (walk37 F5). Each sort now scrolls, as little as it must, to show its column whole."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        seen = []
        for _ in range(10):  # date -> run, state, ..., time, date: every column once
            await pilot.press("s")
            await ready(pilot, app)
            header = table_lines(table)[0]
            label = COLUMN_LABELS[app.query_one(RunsPane).sort_column]
            seen.append(label)
            assert re.search(rf"(^| ){label} [▲▼]", header), (label, header)
        assert seen[-1] == "date" and len(set(seen)) == 10
        await pilot.press("S")  # reversing keeps it in view, and the name column stays at the left
        await ready(pilot, app)
        header = table_lines(table)[0]
        assert "date ▲" in header and header.split()[0] == "run", header


async def test_a_run_another_process_starts_appears_without_ctrl_r(make_app, runs_folder, synthetic_data):
    """`mnist-tui train` in another terminal: its run never showed in the open view until ctrl+r."""
    import asyncio

    from mnist_tui.core.engine import Trainer

    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        events = list(Trainer(BASE, synthetic_data, checkpoints_dir=runs_folder, run_name="elsewhere").run())
        assert events[-1].kind == "finished"
        async with asyncio.timeout(30):
            while table.row_count == len(RUNS):  # no key pressed: the view notices the new folder
                await pilot.pause(0.1)
        assert "elsewhere" in names(app) and status(app).startswith("4 runs in")


async def test_an_unreadable_run_trained_again_elsewhere_is_read_again(make_app, runs_folder, synthetic_data):
    """A run killed before its first save, listed unreadable, then trained to the end by `mnist-tui train
    --run-name` again: the view said unreadable until ctrl+r."""
    import asyncio
    import shutil

    from mnist_tui.core.engine import Trainer

    killed = runs_folder / "killed"
    killed.mkdir()
    shutil.copy(runs_folder / "alpha-mlp" / "config.json", killed / "config.json")
    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        await open_runs(pilot, app, rows=len(RUNS) + 1)
        run = next(r for r in app.query_one(RunsPane).runs if r.name == "killed")
        assert run.error
        events = list(Trainer(BASE, synthetic_data, checkpoints_dir=runs_folder, run_name="killed").run())
        assert events[-1].kind == "finished"
        async with asyncio.timeout(30):
            while next(r for r in app.query_one(RunsPane).runs if r.name == "killed").error:
                await pilot.pause(0.1)
        assert next(r for r in app.query_one(RunsPane).runs if r.name == "killed").state == "finished"


async def test_a_column_cut_by_the_right_edge_is_blank_until_scrolled_to(make_app, synthetic_data, tmp_path):
    """Cut at 80 columns, a learning rate of 0.00165301 read "0.001", a plausible and wrong value."""
    from mnist_tui.core.engine import Trainer

    folder = tmp_path / "runs"
    name = "mnist-seed-mlp-trial000"  # as long as a tuning trial's name
    events = list(Trainer(BASE.replace(lr=0.00165301, epochs=1), synthetic_data, checkpoints_dir=folder,
                          run_name=name).run())
    assert events[-1].kind == "finished"
    app = make_app(checkpoints_dir=folder)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=1)
        for presses in range(4):
            lines = table_lines(table)
            header, row = lines[0], lines[1]
            assert ("0.00165301" in row) == ("lr" in header.split()), lines
            assert not re.search(r"0\.0\d*$", row) or row.endswith("0.00165301"), lines  # never part of it
            header = re.sub(r" →( \d+ more( columns?)?)?$", "", header.rstrip())  # what lies past the edge
            assert header.split()[-1] in ("state", "model", "epochs", "val", "test", "lr", "batch", "time", "date",
                                          "▼", "▲"), lines  # the last header on screen is a whole one
            await pilot.press("right")
            await ready(pilot, app)
        assert "0.00165301" in table_lines(table)[1]


async def test_the_header_says_when_columns_lie_past_either_edge(make_app, synthetic_data, tmp_path):
    """With a default run name at 80 columns the header ended at "lr  batch" with no room for its →: nothing
    said that time and date were there; once scrolled, nothing said state and model lay to the left."""
    from mnist_tui.core.engine import Trainer

    folder = tmp_path / "runs"
    events = list(Trainer(BASE.replace(epochs=1), synthetic_data, checkpoints_dir=folder,
                          run_name="mlp-20261204-224051").run())
    assert events[-1].kind == "finished"
    app = make_app(checkpoints_dir=folder)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=1)
        seen = []
        for presses in range(6):
            header = table_lines(table)[0]
            seen.append(header)
            assert ("date" in header) != bool(re.search(r" →( \d+ more( columns?)?)?$", header.rstrip())), seen
            assert ("state" in header) != (" ← " in header), seen
            await pilot.press("right")
            await ready(pilot, app)
        assert "date" in seen[-1], seen


async def test_f2_shows_results_from_a_filtered_runs_view_with_nothing_loaded(make_app, runs_folder):
    """With a filter on and no results yet, f2 left the screen on Runs (f1 and f3 worked)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_runs(pilot, app)
        await pilot.press("slash", *"mlp", "enter")
        await ready(pilot, app)
        assert "2 of 3 runs hold" in status(app)
        await pilot.press("f2")
        await ready(pilot, app)
        assert app.query_one(TabbedContent).active == "results"
        assert "No results yet" in str(app.query_one("#results-summary", Static).render())
        await pilot.press("f4")
        await ready(pilot, app)
        assert app.query_one(TabbedContent).active == "runs" and "2 of 3 runs hold" in status(app)


@pytest.mark.parametrize("width", [80, 100])
async def test_the_footer_shows_whole_keys_only(make_app, runs_folder, width):
    """At 100 columns the Runs footer ended in "f1", the rest of "f10 Tune" cut off: it read as f1 Train."""
    from textual.widgets._footer import FooterKey

    app = make_app()
    async with app.run_test(size=(width, 30)) as pilot:
        await open_runs(pilot, app)
        await pilot.pause()
        keys = list(app.screen.query(FooterKey))
        [palette] = [key for key in keys if key.has_class("-command-palette")]
        shown = [key for key in keys if key.display and key is not palette]
        assert shown and all(key.region.right <= palette.region.x for key in shown), [
            (key.key_display, key.region) for key in shown]
        assert shown[0].key_display == "l"  # the view's own keys stay, first


async def test_stray_folders_are_counted_in_one_line_and_l_says_why(make_app, runs_folder, monkeypatch):
    """Each unreadable folder's reason was in the header: ten of them took 9 of the 24 lines."""
    for index in range(10):
        (runs_folder / f"junk{index}").mkdir()
    monkeypatch.chdir(runs_folder.parent)  # the folder as a user names it: tmp_path's length varies
    app = make_app(checkpoints_dir=Path(runs_folder.name))
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=len(RUNS) + 10)
        header = app.query_one("#runs-status", Static)
        assert "10 unreadable (l on one says why)" in status(app) and "config.json" not in status(app)
        assert header.region.height == 1 and table.region.height >= 18
        table.move_cursor(row=[r.name for r in app.query_one(RunsPane).runs].index("junk3"))
        await pilot.press("l")
        await pilot.pause()
        said = "junk3 cannot be read: runs/junk3 has no config.json"
        assert [str(n.message) for n in app._notifications] == [said]
        await pilot.press("w", "r", "i")  # the same words once, not a stack over the list (walk22 F7)
        await pilot.pause()
        assert [str(n.message) for n in app._notifications] == [said]


async def test_resuming_a_run_from_a_filtered_list_shows_train_and_keeps_the_filter(make_app, runs_folder):
    """r with a filter on left the view on Runs with the keys in the filter: the next key replaced it."""
    from tests.tui.test_app import run_to_completion

    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        await open_runs(pilot, app)
        await pilot.press("slash", *"zeta", "enter")
        await ready(pilot, app)
        assert shown_names(app.query_one("#runs-table", DataTable)) == ["zeta-mlp"]
        await pilot.press("r", "enter")  # a finished run: as many epochs more as it had
        await run_to_completion(pilot, app)
        assert app.query_one(TabbedContent).active == "train"
        assert not isinstance(app.focused, Input) or app.focused.id != "runs-filter"
        await pilot.press("f4", "j")
        await ready(pilot, app)
        assert app.query_one("#runs-filter", Input).value == "zeta"


async def test_a_paused_run_reads_paused_and_the_footer_keeps_the_run_keys(make_app, runs_folder):
    """Runs called a paused run "training", and its footer, filled with the view's keys, left out f6 and f7
    although both worked there."""
    from textual.widgets._footer import FooterKey
    from tests.tui.test_app import run_to_completion, set_field, start_paused

    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)
        await pilot.press("f4")
        await app.query_one(RunsPane).refresh_runs().wait()
        await pilot.pause()
        table = app.query_one("#runs-table", DataTable)
        states = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        shown = [key.key_display for key in app.screen.query(FooterKey) if key.display]
        await pilot.press("f6")  # resumed (the run must end before the app can)
        await app.wait_for_event("resumed")
        await pilot.pause()
        resumed = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        await run_to_completion(pilot, app)
        assert sorted(states) == ["finished"] * len(RUNS) + ["paused"], states
        assert "f6" in shown and "f7" in shown and shown[0] == "l", shown
        assert "paused" not in resumed, resumed  # training again (or, on this tiny set, already finished)


async def resumed_paused_over_an_edited_form(pilot, app, lr: str = "0.0042", run: str = "zeta-mlp",
                                             keys: tuple[str, ...] = ("r", "enter"), rows: int = len(RUNS)) -> None:
    """The form's lr edited to ``lr``, then ``run`` resumed (r; a finished one for as many epochs more as it had,
    enter), paused before its first batch, as start_paused does: in the same tick as the start (paused once the
    keys were handled, a resumed run of the tiny set could end first)."""
    from tests.tui.test_app import set_field

    app.NOTIFICATION_TIMEOUT = 3600  # what r said stays to be read: on a loaded machine the child took longer
    await ready(pilot, app)  # to start than a toast stays, and the tests found none (the full suite, load 4)
    await set_field(pilot, app, "lr", lr)
    table = await open_runs(pilot, app, rows=rows)
    table.move_cursor(row=names(app).index(run))
    start = app.run_view.start

    def start_paused(*args) -> None:
        start(*args)
        app.action_pause()

    app.run_view.start = start_paused
    await pilot.press(*keys)
    await app.wait_for_event("paused")
    del app.run_view.start
    await pilot.pause()


async def test_resuming_a_run_shows_its_config_while_it_trains_then_gives_the_form_back(make_app, runs_folder):
    """r put the run's config in the form without a word and left it there: the user's own edits were gone,
    and f5 then trained a new run of the resumed one's total epochs (walk20 F3)."""
    from tests.tui.test_app import run_to_completion

    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        await resumed_paused_over_an_edited_form(pilot, app)
        during = app.query_one("#field-lr", Input).value
        said = [str(n.message) for n in app._notifications]
        await pilot.press("f6")
        await run_to_completion(pilot, app)
        assert during == "0.01"  # the run's, while it trains
        assert any("zeta-mlp's config while it trains" in text for text in said), said
        assert app.query_one("#field-lr", Input).value == "0.0042"


async def test_the_form_shows_a_resumed_runs_config_from_the_moment_it_starts(make_app, runs_folder):
    """After r the locked form showed the user's own values (lr 0.0042) until the child's first event, a second
    or more later, then switched to the run's (walk31 F11): it shows the run's before the child is asked to start."""
    from tests.tui.test_app import run_to_completion

    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        seen = []
        start = app.controller.start

        def look_then_start(*args, **kwargs):
            seen.append((app.query_one("#field-lr", Input).value, app.query_one("#field-epochs", Input).value))
            start(*args, **kwargs)

        app.controller.start = look_then_start
        await resumed_paused_over_an_edited_form(pilot, app)
        await pilot.press("f6")
        await run_to_completion(pilot, app)
        after = app.query_one("#field-lr", Input).value
    assert seen == [("0.01", "4")], seen  # zeta-mlp's lr, and its 2 epochs plus the 2 more asked for
    assert after == "0.0042"


async def test_a_resumed_run_whose_process_dies_gives_the_form_back_too(make_app, runs_folder):
    """The form came back when a resumed run ended, stopped or failed, but not when its process was killed."""
    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        await resumed_paused_over_an_edited_form(pilot, app)
        assert app.query_one("#field-lr", Input).value == "0.01"
        app.controller._process._process.kill()  # the training child dies (OOM killer, a kill -9)
        await workers_done(app)
        await pilot.pause()
        assert app.run_state == "idle" and app.query_one("#field-lr", Input).value == "0.0042"


async def test_resuming_over_an_invalid_form_shows_the_runs_config_and_gives_the_text_back(make_app, runs_folder):
    """With lr typed as "0.0042e" (refused), r resumed the run but the locked form kept the invalid text and its
    error, with no word of the run's config (walk23 F7); the typed text, error and all, comes back at the end."""
    from tests.tui.test_app import run_to_completion

    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        await resumed_paused_over_an_edited_form(pilot, app, "0.0042e")
        during = app.query_one("#field-lr", Input).value
        said = [str(n.message) for n in app._notifications]
        await pilot.press("f6")
        await run_to_completion(pilot, app)
        assert during == "0.01", during  # the run's, while it trains
        assert any("zeta-mlp's config while it trains" in text for text in said), said
        assert app.query_one("#field-lr", Input).value == "0.0042e"
        assert "must be a number" in str(app.query_one("#error-lr").render())


async def test_a_run_stopped_before_its_first_batch_resumes_under_its_own_config_too(make_app, runs_folder,
                                                                                     synthetic_data):
    """A run stopped at step 0 (a tuning trial stopped as it began) resumed under the user's form, invalid field and
    all, with no word: the form's swap went by where the run started (epoch 0, step 0), not by its being resumed
    (walk23 F7)."""
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.runtime import RunControl
    from tests.tui.test_app import run_to_completion

    control = RunControl()
    control.stop()
    events = list(Trainer(BASE.replace(lr=0.02), synthetic_data, checkpoints_dir=runs_folder,
                          run_name="early-stop").run(control))
    assert events[-1].kind == "stopped" and events[-1].epoch == 1 and events[-1].step == 0, events[-1]
    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        await resumed_paused_over_an_edited_form(pilot, app, "0.0042e", "early-stop", ("r",), len(RUNS) + 1)
        during = app.query_one("#field-lr", Input).value
        said = [str(n.message) for n in app._notifications]
        await pilot.press("f6")
        await run_to_completion(pilot, app)
        assert during == "0.02", during
        assert any("early-stop's config while it trains" in text for text in said), said
        assert app.query_one("#field-lr", Input).value == "0.0042e"


async def test_a_paused_run_reads_paused_in_the_runs_command_and_in_compare(make_app, runs_folder):
    """Runs said "paused", but `mnist-tui runs` (another process) and Compare said "training" (walk22 F4)."""
    import json
    import subprocess
    import sys

    from mnist_tui.tui.screens.compare import compared_run, comparison_rows
    from tests.tui.test_app import run_to_completion, set_field, start_paused

    def listed() -> dict[str, str]:
        done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "runs", "--json", "--checkpoints",
                               str(runs_folder)], capture_output=True, text=True, timeout=120)
        return {run["name"]: run["state"] for run in json.loads(done.stdout)}

    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)
        run_dir = Path(app.controller.run_dir)
        while_paused = listed()[run_dir.name]
        compared = dict(comparison_rows([compared_run(run_dir), compared_run(runs_folder / "zeta-mlp")]))
        app.action_resume()
        await app.wait_for_event("resumed")
        after = listed()[run_dir.name]
        await run_to_completion(pilot, app)
    assert while_paused == "paused" and after in ("training", "finished"), (while_paused, after)
    assert compared["epochs done"][0] == "0/2 paused", compared


async def test_a_run_that_ended_here_does_not_read_paused_from_a_listing_made_while_it_was(make_app, runs_folder):
    """The listing made while the app's run was paused said "paused" (as `runs` does); once the run ended here,
    its row fell back on that listing and read "paused" until the next one (a CI failure of walk22 F4's fix)."""
    from dataclasses import replace

    app = make_app(checkpoints_dir=runs_folder)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        pane = app.query_one(RunsPane)
        run = pane.all_runs[0]
        pane.show_training(run.path, "paused")
        pane.set_runs([replace(run, state="paused"), *pane.all_runs[1:]], pane.folder)
        paused = str(table.get_row_at(names(app).index(run.name))[1])
        pane.show_training(None, "training")  # it resumed and ended before the folder was read again
        ended = str(table.get_row_at(names(app).index(run.name))[1])
    assert paused == "paused" and ended == "training", (paused, ended)


async def test_the_header_stays_one_line_with_a_long_folder_marks_and_unreadable_runs(make_app, runs_folder):
    """It wrapped into a second line that began "· 5 marked (c compares)", pushing the table down (walk33 F7):
    the order hint, then the folder give way; the counts and marks stay."""
    deep = runs_folder.parent / ("a-long-folder-name-" * 3) / "checkpoints"
    deep.parent.mkdir()
    runs_folder.rename(deep)
    (deep / "broken").mkdir()
    app = make_app(checkpoints_dir=deep)
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=len(RUNS) + 1)
        await pilot.press("m", "down", "m")
        await pilot.pause()
        narrow, height = status(app), app.query_one("#runs-status", Static).region.height
        await pilot.resize_terminal(250, 24)
        await pilot.pause()
        wide = status(app)
    assert height == 1 and table is not None
    assert narrow.startswith("4 runs") and "1 unreadable (l on it says why)" in narrow
    assert "2 marked (c compares)" in narrow
    assert f"4 runs in {deep} · newest first (s) · 1 unreadable" in wide


async def test_a_run_that_diverged_before_its_first_save_is_not_loaded_drawn_or_resumed(make_app, runs_folder):
    """l on it replaced the results shown with "Evaluation failed: …last.pt: no such checkpoint file"; r said it
    trained, then failed; w opened Draw with no model (walk34 F3, F4). Each says why, and nothing changes."""
    import shutil

    from mnist_tui.core.runs import mark_failed

    diverged = runs_folder / "diverged"
    diverged.mkdir()
    for name in ("config.json", "metrics.jsonl"):
        shutil.copy(runs_folder / "small-cnn" / name, diverged / name)
    (diverged / "metrics.jsonl").write_text("")
    mark_failed(diverged, "training diverged at epoch 1, step 3: loss is nan", 1)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=len(RUNS) + 1)
        table.move_cursor(row=names(app).index("alpha-mlp"))
        await pilot.press("l")
        await ready(pilot, app)
        shown = str(app.query_one("#results-summary", Static).render())
        await pilot.press("f4")
        await ready(pilot, app)
        row = names(app).index("diverged")
        state = app.query_one(RunsPane).runs[row].state
        table.move_cursor(row=row)
        for key in ("l", "r", "w"):
            await pilot.press(key)
            await ready(pilot, app)
        said = [str(n.message) for n in app._notifications]
        where, screens = app.query_one(TabbedContent).active, len(app.screen_stack)
        after = str(app.query_one("#results-summary", Static).render())
        running = app.controller.active
    assert state == "failed" and "alpha-mlp" in shown and after == shown
    assert said == ["diverged: it diverged before its first save, so there is no model to load, draw or resume "
                    "(f puts its config in the form)"]  # once for the three keys
    assert where == "runs" and screens == 1 and not running


async def test_a_steered_runs_lr_cell_says_its_steering(make_app, runs_folder, synthetic_data):
    """A run steered to x0.25 for most of its epoch read as the form's rate alone (walk34 F15)."""
    from mnist_tui.core.engine import RunControl, Trainer

    control = RunControl()
    control.set_lr_factor(0.25)
    events = list(Trainer(BASE.replace(seed=3), synthetic_data, checkpoints_dir=runs_folder, run_name="steered")
                  .run(control))
    assert events[-1].kind == "finished"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=len(RUNS) + 1)
        lr = [c.key.value for c in table.ordered_columns].index("lr")
        cells = {name: str(table.get_row_at(row)[lr]) for row, name in enumerate(shown_names(table))}
    assert cells["steered"] == "0.003 ×0.25" and cells["alpha-mlp"] == "0.003"


async def test_l_and_r_on_the_run_this_app_has_paused_say_what_to_do(make_app):
    """Before its first save, l on it read "Evaluation failed: .../last.pt: no such checkpoint file" (walk39 F3),
    and r "Stop the current run before resuming another." though it was that run (walk39 F6)."""
    import asyncio

    from tests.tui.test_app import run_to_completion, start_paused, the_run

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await start_paused(pilot, app)
        await pilot.press("f4")
        async with asyncio.timeout(30):  # (its training worker runs on: ready() would wait for it)
            while not names(app):
                await pilot.pause(0.05)
        run = the_run(app).name
        assert names(app) == [run] and app.query_one("#runs-table", DataTable).cursor_row == 0
        await pilot.press("l")
        await pilot.pause()
        loaded = [str(n.message) for n in app._notifications]
        await pilot.press("r")
        await pilot.pause()
        resumed = [str(n.message) for n in app._notifications]
        assert app.run_state == "paused"
        await pilot.press("f6")  # as it says
        await app.wait_for_event("resumed")
        await run_to_completion(pilot, app)
    assert loaded == [f"{run} has no checkpoint yet: it saves one at the end of its first epoch"], loaded
    assert resumed[-1] == "That run is paused in this app: f6 resumes it.", resumed


async def test_a_long_run_name_is_cut_in_its_middle_and_leaves_the_other_columns_room(make_app, runs_folder):
    """A 68-character name took 70 of 80 columns: "state" was cut to "stopp" and every other column needed
    a → each (walk39 F1). The name column now takes at most two fifths of the width; the rest shows whole."""
    import shutil

    long = "zz-a-very-long-run-name-that-goes-on-and-on-for-quite-a-while-indeed"
    shutil.copytree(runs_folder / "alpha-mlp", runs_folder / long)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=len(RUNS) + 1)
        lines = table_lines(table)
        row = next(line for line in lines if line.strip(" ●").startswith("zz-a-very"))
        await pilot.press("m")  # marked: the cut name keeps its mark
        await pilot.pause()
        marked = table_lines(table)
    assert lines[0].split()[:7] == ["run", "state", "model", "epochs", "best", "val", "test"], lines[0]
    assert "…" in row and row.split()[0].endswith("indeed") and row.split()[1] == "finished", row
    assert len(row.split()[0]) <= 32
    assert marked[1].startswith(" ● ") and len(marked[1].split()[1]) <= 32, marked  # (the first row, marked)


async def test_a_cut_run_name_is_cut_again_for_the_new_width_when_the_terminal_is_resized(make_app, runs_folder):
    """Cut for 80 columns, a long name stayed cut at 200 (and one cut for 200 overflowed at 80) until ctrl+r."""
    import shutil

    long = "zz-a-very-long-run-name-that-goes-on-and-on-for-quite-a-while-indeed"
    shutil.copytree(runs_folder / "alpha-mlp", runs_folder / long)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app, rows=len(RUNS) + 1)
        await pilot.press("down")  # the cursor stays on its run through the refill
        before = table.cursor_row
        await pilot.resize_terminal(200, 24)
        await pilot.pause()
        await pilot.pause()
        wide = next(line for line in table_lines(table) if "zz-a-very" in line)
        after = table.cursor_row
    assert wide.split()[0] == long, wide
    assert after == before


async def test_an_empty_runs_folder_says_so_in_one_plain_sentence(make_app, tmp_path):
    """It read "No runs in FOLDER yet. · newest first (s)": a full stop, then an order of nothing (walk40 F11)."""
    app = make_app(checkpoints_dir=tmp_path / "empty", load_data_on_start=False)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        await pilot.pause()
        status = app.query_one("#runs-status", Static)
        shown = status.render_lines(status.region.reset_offset)[0].text.strip()
    assert shown == f"No runs in {tmp_path / 'empty'} yet: f5 trains one", shown


async def test_the_run_this_app_trains_gets_the_cursor_when_it_first_shows(make_app, runs_folder):
    """(Another process's run leaves the cursor where it is: above.) The one f5 trained is the one looked for."""
    from tests.tui.test_app import run_to_completion

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_runs(pilot, app)
        await pilot.press("end")  # the cursor on the oldest run
        await pilot.press("f1", "f5")
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        selected = app.query_one(RunsPane).selected
    assert table.row_count == len(RUNS) + 1 and selected.path == str(app.controller.run_dir), selected
