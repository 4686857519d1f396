"""Results for a run loaded from Runs: the checkpoint its figure belongs to, named as `eval` names it."""

from __future__ import annotations

import zipfile

import pytest
from textual.widgets import DataTable, Static

from mnist_tui.core.engine import RunControl, Trainer
from mnist_tui.core.events import StepMetrics, Stopped
from tests.tui.test_app import SIZE, ready


async def test_a_stopped_run_shows_its_best_checkpoint_as_eval_does(make_app, synthetic_data, tiny_config, tmp_path):
    runs = tmp_path / "runs"
    control = RunControl()
    events = []
    for event in Trainer(tiny_config.replace(epochs=2), synthetic_data, checkpoints_dir=runs, run_name="halted",
                         points_per_epoch=1000).run(control):
        events.append(event)
        if isinstance(event, StepMetrics) and event.epoch == 2 and event.step == 3:
            control.stop()
    assert isinstance(events[-1], Stopped)  # best.pt after epoch 1, last.pt three batches into epoch 2

    app = make_app(checkpoints_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        assert app.query_one("#runs-table", DataTable).row_count == 1
        await pilot.press("l")
        await ready(pilot, app)
        summary = str(app.query_one("#results-summary", Static).render())
        assert "halted · best (epoch 1)" in summary, summary


async def test_a_run_stopped_in_its_first_epoch_is_named_where_it_stopped(make_app, synthetic_data, tiny_config,
                                                                          synthetic_root, tmp_path, capsys):
    from mnist_tui.cli import main

    runs = tmp_path / "runs"
    control = RunControl()
    for event in Trainer(tiny_config.replace(epochs=2), synthetic_data, checkpoints_dir=runs, run_name="early",
                         points_per_epoch=1000).run(control):
        if isinstance(event, StepMetrics) and event.epoch == 1 and event.step == 3:
            control.stop()
    assert (event.epoch, event.step) == (1, 3) and not (runs / "early" / "best.pt").exists()

    app = make_app(checkpoints_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        await pilot.press("l")
        await ready(pilot, app)
        summary = str(app.query_one("#results-summary", Static).render())
        assert "early · last (epoch 1, step 3)" in summary, summary  # as "Stopped early at epoch 1, step 3" said

    capsys.readouterr()
    assert main(["eval", str(runs / "early"), "--data-dir", str(synthetic_root), "--checkpoints", str(runs)]) == 0
    assert capsys.readouterr().out.startswith("early · last (epoch 1, step 3)\n")


async def test_a_run_with_damaged_saved_results_is_tested_again_and_a_failed_one_shows_nothing_old(
        make_app, synthetic_data, tmp_path):
    from mnist_tui.tui.panes.misclassified import MisclassifiedPane
    from tests.core.tiny_runs import TINY, train_tiny_run

    runs = tmp_path / "runs"
    good = train_tiny_run(synthetic_data, runs, "a-good", TINY.replace(epochs=1))
    damaged = train_tiny_run(synthetic_data, runs, "b-damaged", TINY.replace(epochs=1))
    (damaged / "misclassified.pt").write_bytes((damaged / "misclassified.pt").read_bytes()[:100])
    broken = train_tiny_run(synthetic_data, runs, "c-broken", TINY.replace(epochs=1))
    (broken / "misclassified.pt").write_bytes((broken / "misclassified.pt").read_bytes()[:100])
    with zipfile.ZipFile(broken / "last.pt", "w") as zipped:  # whole as a zip (listed as a run), no checkpoint
        zipped.writestr("archive/data.pkl", b"not a checkpoint any more")

    app = make_app(checkpoints_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        table = app.query_one("#runs-table", DataTable)
        paths = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]

        async def load(name: str) -> str:
            await pilot.press("f4")
            table.move_cursor(row=paths.index(str(runs / name)))
            await pilot.press("l")
            await ready(pilot, app)
            return str(app.query_one("#results-summary", Static).render())

        summary = await load("b-damaged")
        assert summary.startswith("b-damaged · last (epoch 1)\ntest accuracy"), summary  # its checkpoint, tested
        assert app.query_one("#confusion").display and app.query_one(MisclassifiedPane).evaluation is not None
        summary = await load("c-broken")
        assert summary.startswith("Evaluation failed:") and "c-broken/last.pt" in summary, summary
        assert not app.query_one("#confusion").display  # b-damaged's matrix is not left under c-broken's name
        assert app.query_one(MisclassifiedPane).evaluation is None  # nor its digits
        assert good.is_dir()


async def test_a_narrow_matrix_scrolls_to_the_accuracy_column_and_keeps_the_true_class(make_app, synthetic_data,
                                                                                        tiny_config, tmp_path):
    # at 60x20 real MNIST's acc column was cut off: the table was as wide as its content, clipped, and never
    # scrolled; the synthetic test set's counts are narrower, so 48 columns cut it here
    runs = tmp_path / "runs"
    assert list(Trainer(tiny_config, synthetic_data, checkpoints_dir=runs, run_name="done").run())[-1].kind == "finished"
    app = make_app(checkpoints_dir=runs)
    async with app.run_test(size=(48, 20)) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        await pilot.press("l")
        for _ in range(3):  # the saved results' worker, the message it posts, then the drawn tab's focus
            await ready(pilot, app)
        table = app.query_one("#confusion", DataTable)
        assert app.focused is table
        header, row = table.render_line(0).text, table.render_line(1).text
        shown_first = header.split(), row.split()
        await pilot.press(*["right"] * 9)  # from →0 to →9
        await ready(pilot, app)
        at_nine = table.render_line(0).text.split(), table.cursor_coordinate.column
        await pilot.press("right")  # to acc
        await ready(pilot, app)
        header = table.render_line(0).text
        assert header.split()[:1] == ["true"] and header.split()[-1] == "acc", header
        assert table.render_line(1).text.split()[0] == "0" and "%" in table.render_line(1).text
    # too narrow for all twelve columns: the ones past the edge are blank, not cut (a cut "→9" read "→"), and the
    # header says there are more; every number shown is whole (a column of the row's cells per header label)
    assert shown_first[0][0] == "true" and shown_first[0][-2:] == ["→8", "→"], shown_first
    assert len(shown_first[1]) == len(shown_first[0]) - 1, shown_first
    # →9 comes in whole, with the hint after it (acc is still past the edge), by whole columns from the left
    assert at_nine[1] == 10 and at_nine[0][-2:] == ["→9", "→"] and at_nine[0][1].startswith("→"), at_nine


@pytest.mark.parametrize("damage, said", [
    ("no saved results", "Evaluating second · last.pt on the test set…"),
    ("damaged saved results", "Reading second's saved results…"),
])
async def test_a_run_being_loaded_hides_the_matrix_shown_before(make_app, synthetic_data, tiny_config, tmp_path,
                                                                damage, said):
    """While a second run was evaluated, the first one's matrix stayed under "Evaluating second…", and the bar
    counted "0 / 1 test digits" until the first chunk (walk29 F2). A finished run's saved results were read, and
    tested again when they could not be, under the previous run's matrix too."""
    from mnist_tui.tui.panes.results import ResultsPane

    runs = tmp_path / "runs"
    for name in ("first", "second"):
        assert list(Trainer(tiny_config, synthetic_data, checkpoints_dir=runs, run_name=name).run())[-1].kind == "finished"
    if damage == "no saved results":  # its figures are worked out again, on the test set
        (runs / "second" / "misclassified.pt").unlink()
    else:  # read first, then its model is tested again
        (runs / "second" / "misclassified.pt").write_bytes(b"damaged")

    app = make_app(checkpoints_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        pane = app.query_one(ResultsPane)
        pane.load_run(runs / "first", app.dataset_cache)
        await ready(pilot, app)
        shown_first = pane.query_one("#confusion").display
        pane.load_run(runs / "second", app.dataset_cache)  # no await: as drawn before its figures come
        during = (pane.query_one("#confusion").display, pane.query_one("#results-help").display,
                  str(pane.query_one("#eval-progress", Static).render()),
                  str(pane.query_one("#results-summary", Static).render()))
        await ready(pilot, app)
        summary = str(pane.query_one("#results-summary", Static).render())
    assert shown_first
    assert during[:2] == (False, False), during
    assert "/ 1 test digits" not in during[2] and during[3] == said, during
    assert summary.startswith("second · last (epoch"), summary


async def test_the_matrix_hint_is_whole_at_60x20(make_app, synthetic_data, tiny_config, tmp_path):
    """"rows: true class, columns: predicted · enter: see those digits" wrapped at 60 columns, and its second line,
    "digits", lay below the screen's edge (walk41 F12)."""
    from tests.tui.terminal import TerminalMirror

    runs = tmp_path / "runs"
    list(Trainer(tiny_config.replace(epochs=1), synthetic_data, checkpoints_dir=runs, run_name="r").run())
    app = make_app(checkpoints_dir=runs)
    terminal = TerminalMirror(app, (60, 20))
    async with app.run_test(size=(60, 20)) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        await pilot.press("l")
        await ready(pilot, app)
        hint = [line.strip() for line in terminal.lines() if line.strip().startswith("rows: true class")]
    assert len(hint) == 1 and hint[0].endswith("enter: see them"), terminal.text()


async def test_the_matrix_says_its_figures_as_eval_does_and_fits_80_columns():
    """Results said 99.5% and "0" where `mnist-tui eval` says 99.49% and "·" (walk40 F8)."""
    from tests.tui.one_widget import OneWidget
    from mnist_tui.tui.widgets.confusion import ConfusionTable

    confusion = [[1135 if p == t else (3 if p == (t + 1) % 10 else 0) for p in range(10)] for t in range(10)]
    app = OneWidget(lambda: ConfusionTable(id="confusion"))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(ConfusionTable)
        table.set_confusion(confusion, [1135 / 1138] * 9 + [1.0])
        await pilot.pause()
        first, last = ([str(cell) for cell in table.get_row_at(row)] for row in (0, 9))
        assert first[1:4] == ["1135", "3", "·"] and first[-1] == "99.74%", first
        assert last[-1] == "100.00%", last
        assert table.max_scroll_x == 0  # every column on screen at 80 columns
