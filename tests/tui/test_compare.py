"""Compare runs: overlaid validation curves, a legend, and a table of what differs."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from mnist_tui.core.config import TrainConfig
from mnist_tui.tui.screens.compare import (
    CompareChart, ComparedRun, CompareScreen, comparison_rows, differing_fields, hex_colour, run_colour,
)

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
        await app.workers.wait_for_complete()
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
        assert cells["lr"] == ["0.003", "0.01"] and cells["epochs"] == ["2", "3"]
        assert "batch_size" not in cells and "model" not in cells  # equal fields are left out
        assert cells["epochs done"] == ["2/2", "3/3"]
        assert cells["best val acc"][0].endswith("%") and cells["test acc"][1].endswith("%")

        await pilot.press("escape")
        assert not isinstance(app.screen, CompareScreen)


async def test_an_unreadable_run_is_shown_not_fatal(two_runs, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    screen = CompareScreen([two_runs[0], broken])
    app = CompareApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "unreadable" in str(screen.query_one("#compare-legend", Static).render())
        cells = table_cells(screen.query_one(DataTable))
        assert "config.json" in cells["error"][1]
        assert cells["best val acc"][1] == "-"


def test_differing_fields_and_rows():
    a = TrainConfig(lr=0.1, hidden=(64,))
    b = TrainConfig(lr=0.2, hidden=(64, 32))
    assert differing_fields([a, b]) == ["hidden", "lr"]
    assert differing_fields([a, a]) == [] and differing_fields([a]) == []
    rows = dict(comparison_rows([ComparedRun("a", "a", a, [1], [0.5], [1.0]),
                                 ComparedRun("b", "b", b, [1, 2], [0.6, 0.7], [0.9, 0.8])]))
    assert rows["hidden"] == ["64", "64,32"]
    assert rows["best val acc"] == ["50.00%", "70.00%"] and rows["final val loss"] == ["1.0000", "0.8000"]
    assert hex_colour((0, 175, 255)) == "#00afff"
