"""Compare runs: overlaid validation curves, a legend, and a table of what differs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable, Static

from mnist_tui.core.config import TrainConfig, field_label
from mnist_tui.core.runs import read_run
from mnist_tui.tui.screens import compare
from mnist_tui.tui.screens.compare import (
    NOT_APPLICABLE, CompareChart, ComparedRun, CompareScreen, comparison_rows, config_cells, hex_colour, run_colour,
)
from tests.tui.workers import workers_done

SIZE = (80, 24)


@pytest.fixture(scope="module")
def two_runs(synthetic_data, tmp_path_factory) -> list[Path]:
    """Two real runs on the synthetic set that differ in lr and epochs."""
    from mnist_tui.core.engine import Trainer

    folder = tmp_path_factory.mktemp("compare-runs")
    base = TrainConfig(model="mlp", hidden=(32,), epochs=2, batch_size=32, optimizer="adam", lr=3e-3,
                       schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)
    for name, config in (("slow", base), ("quick", base.replace(lr=1e-2, epochs=3))):
        events = list(Trainer(config, synthetic_data, checkpoints_dir=folder, run_name=name).run())
        assert events[-1].kind == "finished"
    return [folder / "slow", folder / "quick"]


class CompareApp(App):
    def __init__(self, screen: CompareScreen) -> None:
        super().__init__()
        self.compare_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.compare_screen)


def table_cells(table: DataTable) -> dict[str, list[str]]:
    rows = {}
    for row_key in table.rows:
        cells = [str(c) for c in table.get_row(row_key)]
        rows[cells[0]] = cells[1:]
    return rows


async def test_compare_screen_overlays_curves_and_tabulates_differences(two_runs):
    screen = CompareScreen(two_runs)
    app = CompareApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        legend = str(screen.query_one("#compare-legend", Static).render())
        assert "slow" in legend and "quick" in legend

        accuracy = screen.query_one("#compare-accuracy", CompareChart)
        loss = screen.query_one("#compare-loss", CompareChart)
        slow, quick = screen.runs
        assert accuracy.series(slow)[0] == [1, 2] and accuracy.series(quick)[0] == [1, 2, 3]
        assert accuracy.series(quick)[1] == [100 * v for v in quick.val_accuracy]
        assert loss.series(slow)[1] == slow.val_loss
        # one line per run, each in its run's colour
        assert [(name, colour) for name, colour, _, _ in accuracy.lines] == [("slow", run_colour(0)),
                                                                              ("quick", run_colour(1))]
        assert len(loss.lines) == 2
        assert "Validation accuracy" in accuracy.plt.build()

        table = screen.query_one(DataTable)
        header = [str(c.label) for c in table.columns.values()]
        assert header == ["", "slow", "quick"]
        cells = table_cells(table)
        assert cells["learning rate"] == ["0.003", "0.01"] and cells["epochs"] == ["2", "3"]  # the form's labels
        assert "lr" not in cells and "batch size" not in cells and "model" not in cells  # equal fields left out
        assert cells["epochs done"] == ["2/2", "3/3"]
        # figures come from the core's reader of a run, and say which checkpoint was tested
        for path, test, tested in zip(two_runs, cells["test acc"], cells["tested"]):
            info = read_run(path)
            assert test == f"{100 * info.test_accuracy:.2f}%" and tested == info.test_checkpoint
        assert cells["best val acc"][0].endswith("%")
        assert not hasattr(compare, "load_compared_run")  # one reader of run folders: core.runs

        # y ticks are evenly spaced round numbers, and no legend is drawn over the data
        for chart in (accuracy, loss):
            positions, labels = chart.y_ticks
            steps = {round(b - a, 9) for a, b in zip(positions, positions[1:])}
            assert len(positions) >= 2 and len(steps) == 1, labels
            step = steps.pop()
            assert round(step / 10 ** math.floor(math.log10(step)), 6) in (1, 2, 5)
            assert [float(label) for label in labels] == pytest.approx(positions)
            drawn = Text.from_ansi(chart.plt.build()).plain
            assert "slow" not in drawn and "quick" not in drawn  # the run names are in the legend line below

        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_an_unreadable_run_is_shown_not_fatal(two_runs, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    screen = CompareScreen([two_runs[0], broken])
    app = CompareApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        assert "unreadable" in str(screen.query_one("#compare-legend", Static).render())
        cells = table_cells(screen.query_one(DataTable))
        assert "config.json" in cells["error"][1]
        assert cells["best val acc"][1] == "-"


async def test_a_run_whose_curves_another_draws_over_says_so_in_the_legend(two_runs, tmp_path):
    import shutil

    copy = tmp_path / "slow-copy"
    shutil.copytree(two_runs[0], copy)  # the same curves, point for point: the copy is drawn over slow
    screen = CompareScreen([two_runs[0], two_runs[1], copy])
    app = CompareApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        legend = str(screen.query_one("#compare-legend", Static).render())
        assert "slow (hidden: same curves as slow-copy)" in legend
        assert legend.count("hidden") == 1  # quick has curves of its own, and the copy is on top
        assert screen.query_one("#compare-legend", Static).region.height >= 1  # on screen at 80x24


def test_config_rows_use_the_form_labels_and_hide_what_does_not_apply():
    mlp = TrainConfig(model="mlp", lr=0.1, hidden=(64,), width=16, optimizer="sgd", beta2=0.9)
    cnn = TrainConfig(model="cnn", lr=0.2, hidden=(64, 32), width=32, optimizer="sgd", beta2=0.99)
    rows = dict(config_cells([ComparedRun("a", "a", mlp), ComparedRun("b", "b", cnn)]))
    assert rows[field_label("lr")] == ["0.1", "0.2"] and rows[field_label("model")] == ["mlp", "cnn"]
    assert rows[field_label("hidden")] == ["64", NOT_APPLICABLE]  # an mlp's layers mean nothing to a cnn
    assert rows[field_label("width")] == [NOT_APPLICABLE, "32"]
    assert field_label("beta2") not in rows  # adam's beta2 applies to neither sgd run
    same_model = dict(config_cells([ComparedRun("a", "a", mlp), ComparedRun("b", "b", mlp.replace(width=64))]))
    assert same_model == {}  # only an unused field differs: nothing to show
    assert config_cells([ComparedRun("a", "a", mlp)]) == []

    full = dict(comparison_rows([ComparedRun("a", "a", mlp, [1], [0.5], [1.0], 0.48, "last (epoch 1)", 3.0),
                                 ComparedRun("b", "b", cnn, [1, 2], [0.6, 0.7], [0.9, 0.8])]))
    assert full["best val acc"] == ["50.00%", "70.00%"] and full["final val loss"] == ["1.0000", "0.8000"]
    assert full["test acc"] == ["48.00%", "-"] and full["tested"] == ["last (epoch 1)", "-"]
    assert full["train time"] == ["0:03", "-"]  # as Runs has it (it read "3s", an 11-minute run "672s": walk40 F8)
    long = dict(comparison_rows([ComparedRun("a", "a", mlp, [1], [0.5], [1.0], 0.48, "last (epoch 1)", 672.0)]))
    assert long["train time"] == ["11:12"]
    shifted = ComparedRun("a", "a", mlp, [1], [0.5], [1.0], 0.48, "last (epoch 1)", test_tta=True)
    tested = dict(comparison_rows([shifted, ComparedRun("b", "b", cnn, test_tta=True)]))["test acc"]
    assert tested == ["48.00% TTA", "-"]  # a run not tested says nothing of TTA
    assert hex_colour((0, 175, 255)) == "#00afff"


async def test_a_one_epoch_run_beside_a_deleted_one_keeps_its_axis_within_100_percent(synthetic_data, tmp_path):
    """The accuracy axis ran 0, 100, 200 and the gone run read "no readable config.json (/tmp/...", cut."""
    from mnist_tui.core.engine import Trainer
    from mnist_tui.tui.screens.compare import CompareChart

    config = TrainConfig(model="mlp", hidden=(32,), epochs=1, batch_size=32, optimizer="adam", lr=3e-3,
                         schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)
    assert list(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="one").run())[-1].kind == "finished"
    screen = CompareScreen([tmp_path / "one", tmp_path / "gone"])
    app = CompareApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        assert table_cells(screen.query_one(DataTable))["error"][1] == "the run folder no longer exists"
        chart = next(c for c in screen.query(CompareChart) if c.percent)
        positions, _ = chart.y_ticks
        value = chart.lines[0][3][0]
        assert len(positions) >= 2 and 0 <= positions[0] <= value <= positions[-1] <= 100
        assert positions[-1] - positions[0] <= 10  # the point is not squashed into one line of the chart


def long_named_runs(configs: list[TrainConfig], synthetic_data, folder: Path) -> list[Path]:
    """A finished run of each config, named a-rather-long-run-name-number-N."""
    from mnist_tui.core.engine import Trainer

    paths = []
    for i, config in enumerate(configs):
        name = f"a-rather-long-run-name-number-{i}"
        assert list(Trainer(config, synthetic_data, checkpoints_dir=folder, run_name=name).run())[-1].kind == "finished"
        paths.append(folder / name)
    return paths


async def test_the_table_keeps_its_row_labels_while_the_runs_scroll(synthetic_data, tmp_path):
    # at 80 columns the third run's column was cut, and → scrolled the labels away with everything else
    base = TrainConfig(model="mlp", hidden=(16,), epochs=1, batch_size=64, optimizer="adam", lr=3e-3,
                       schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)
    paths = long_named_runs([base.replace(lr=lr) for lr in (1e-3, 3e-3, 1e-2)], synthetic_data, tmp_path)
    screen = CompareScreen(paths)
    async with CompareApp(screen).run_test(size=SIZE) as pilot:
        await workers_done(pilot.app)
        await pilot.pause()
        legend = screen.query_one("#compare-legend", Static)
        lines = [legend.render_line(y).text.strip() for y in range(legend.region.height)]
        # a run's colour and its name share a line: the third's swatch was left at the end of the first
        assert [line for line in lines if line] == [
            "━━ a-rather-long-run-name-number-0   ━━ a-rather-long-run-name-number-1",
            "━━ a-rather-long-run-name-number-2"]
        table = screen.query_one(DataTable)
        table.focus()
        await pilot.pause()
        assert "number-2" not in table.render_line(0).text  # the third run is off-screen
        assert table.render_line(0).text.rstrip().endswith("→ 2 more runs")  # and the header says so
        labels = [table.render_line(y).text.split()[0] for y in range(1, 4)]
        await pilot.press("right", "right")  # a column at a time
        await pilot.pause()
        assert "number-2" in table.render_line(0).text
        assert "more run" not in table.render_line(0).text
        assert [table.render_line(y).text.split()[0] for y in range(1, 4)] == labels  # the labels stayed


def column_table_app(names: list[str], rows: int):
    """An app holding only a ColumnTable: a 15-column label column, a column per name, ``rows`` rows."""
    from textual.app import App

    from mnist_tui.tui.widgets.column_table import ColumnTable

    class Host(App):
        def compose(self):
            table = ColumnTable(cursor_type="row", fixed_columns=1)
            table.noun = "run"
            yield table

        def on_mount(self) -> None:
            table = self.query_one(ColumnTable)
            table.add_column("", width=15)
            for name in names:
                table.add_column(name, width=len(name))
            for row in range(rows):
                table.add_row(f"row {row}", *("98.62%", "99.22%", "99.00%", "97.00%")[:len(names)])

    return Host()


async def test_the_more_runs_hint_is_not_cut_by_a_vertical_scrollbar():
    """With more rows than fit, the scrollbar took two columns and the header read "→ 1 more ru"."""
    from mnist_tui.tui.widgets.column_table import ColumnTable

    names = ["fastcnn-20261205-083049", "fastcnn-20261205-081439", "fastcnn-20261205-080000"]
    async with column_table_app(names, rows=30).run_test(size=(80, 10)) as pilot:  # more rows than the 10 shown
        await pilot.pause()
        table = pilot.app.query_one(ColumnTable)
        assert table.scrollable_content_region.width < 80  # the scrollbar is there
        shown = table.render_line(0).text[:table.scrollable_content_region.width].rstrip()
        assert shown.endswith(("→ 1 more run", "→ 1 more")), shown  # whole words, never "→ 1 more ru"


async def test_the_more_runs_hint_goes_in_the_labels_blank_header_rather_than_cost_a_run():
    """Four runs at 80 columns showed two, and the right third blank but for "→ 2 more runs", though three fit:
    the last whole column made way for the hint (walk22 F6)."""
    from mnist_tui.tui.widgets.column_table import ColumnTable

    names = [f"mlp-20261205-13{minute:02}20" for minute in (7, 2, 1, 0)]
    async with column_table_app(names, rows=3).run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = pilot.app.query_one(ColumnTable)
        header = table.render_line(0).text
        assert all(name in header for name in names[:3]) and names[3] not in header, header
        assert header[:17] == "    1 more run → ", header
        await pilot.press("right")
        await pilot.pause()
        header = table.render_line(0).text
        assert names[3] in header and header[:17].rstrip().endswith("←") and "more" not in header, header
        table.add_column("mlp-20261205-125900", width=19)  # a fifth: runs both sides of those shown
        await pilot.pause()
        header = table.render_line(0).text
        assert header[:17] == "  ← 1 more run → " and names[3] in header, header


async def test_a_run_that_trains_while_compared_is_read_again_and_marked_training(two_runs, synthetic_data, tmp_path):
    """Compare kept a marked run's figures from when it opened while that run trained on (F5: "1/3" and no
    test figure after it had finished, until ctrl+r), and nothing said the run was training."""
    import asyncio
    import shutil

    from mnist_tui.core import run_lock
    from mnist_tui.core.engine import Trainer

    for run in two_runs:
        shutil.copytree(run, tmp_path / run.name)
    runs = [tmp_path / run.name for run in two_runs]
    held = run_lock.acquire(runs[1])  # as the process that trains it holds it
    screen = CompareScreen(runs)
    app = CompareApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        table = screen.query_one(DataTable)
        assert table_cells(table)["epochs done"] == ["2/2", "3/3 training"]
        held.release()
        events = list(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=runs[1], extra_epochs=1).run())
        assert events[-1].kind == "finished"
        async with asyncio.timeout(30):
            while table_cells(table)["epochs done"] != ["2/2", "4/4"]:  # no key pressed
                await pilot.pause(0.1)
        assert screen.runs[1].epochs == [1, 2, 3, 4]


async def test_a_run_wider_than_the_room_is_shown_cut_and_not_counted_as_more():
    """A run whose name alone is wider than the room is shown, cut; the header still counted it: "→ 4 more runs"
    with it on screen, where one → showed the other three (walk39 F5)."""
    from mnist_tui.tui.widgets.column_table import ColumnTable

    names = ["zz-a-very-long-run-name-that-goes-on-and-on-for-quite-a-while-indeed", "h1", "h2", "fastcnn-052035"]
    async with column_table_app(names, rows=3).run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = pilot.app.query_one(ColumnTable)
        header = table.render_line(0).text
    assert "zz-a-very-long" in header and "3 more runs" in header and "4 more" not in header, header


async def test_the_last_runs_sit_by_the_labels_when_scrolled_to_the_end():
    """Scrolled to the end, the table stopped where its width ran out, inside a column: that column, cut by the
    left edge, was blanked, a hole of 13 columns between the labels and the last two runs (walk31 F6)."""
    from mnist_tui.tui.widgets.column_table import ColumnTable

    names = [f"fastcnn-20261205-08304{i}" for i in range(5)]
    async with column_table_app(names, rows=3).run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = pilot.app.query_one(ColumnTable)
        for _ in range(4):
            await pilot.press("right")
            await pilot.pause()
        header = table.render_line(0).text
    assert header[:17].rstrip().endswith("←") and header[17:].lstrip().startswith(names[3]), header
    assert header.index(names[3]) <= 19 and names[4] in header, header


async def test_the_table_ends_above_the_footer_when_many_fields_differ(synthetic_data, tmp_path):
    """Five runs with long names, a field of their own each: the table's scrollbar ran into the footer row
    (walk33 F6): title, charts at their least, legend and the table at half the screen overflowed 24 lines."""
    from textual.widgets import Footer

    base = TrainConfig(model="mlp", hidden=(16,), epochs=1, batch_size=64, optimizer="adam", lr=3e-3,
                       schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)
    changes = ({}, {"lr": 1e-2, "batch_size": 32}, {"weight_decay": 1e-4, "dropout": 0.1}, {"seed": 2, "hidden": (24,)},
               {"optimizer": "sgd", "momentum": 0.5, "label_smoothing": 0.1, "schedule": "cosine"})
    paths = long_named_runs([base.replace(**change) for change in changes], synthetic_data, tmp_path)
    screen = CompareScreen(paths)
    async with CompareApp(screen).run_test(size=SIZE) as pilot:
        await workers_done(pilot.app)
        await pilot.pause()
        table, footer = screen.query_one(DataTable), screen.query_one(Footer)
        rows, table_region, footer_y = table.row_count, table.region, footer.region.y
        charts = screen.query_one("#compare-charts").region.height
    assert rows > 10  # more than the room: it scrolls
    assert table_region.bottom <= footer_y and charts >= 8
