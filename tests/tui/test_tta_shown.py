"""A run whose config tests with TTA (the best preset's) says so wherever the app shows its test figure
or a digit's confidence."""

from __future__ import annotations

from textual.widgets import Select

from mnist_tui.core.formatting import short_percent
from mnist_tui.tui.panes.misclassified import MisclassifiedPane
from mnist_tui.tui.widgets.digit_grid import DigitDetail
from mnist_tui.tui.widgets.progress import ProgressLine
from mnist_tui.tui.widgets.runs_table import RunsTable

from .test_app import SIZE, a_finished_run, ready, set_field


async def test_a_tta_run_says_with_tta_in_the_status_results_and_runs(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "1")
        app.query_one("#field-tta", Select).value = "on"
        await a_finished_run(pilot, app)
        status = str(app.query_one(ProgressLine).render()).strip()
        summary = str(app.query_one("#results-summary").render())
        await pilot.press("f3")  # the selected wrong digit's confidence is the shifts' average (walk32 F4)
        await pilot.pause()
        panel = app.query_one(DigitDetail)
        # as shown, wrapped where it does not fit
        detail = [line.text.lstrip("▏").strip() for line in panel.render_lines(panel.region.reset_offset)]
        wrong = app.query_one(MisclassifiedPane).examples
        await pilot.press("f4")
        await ready(pilot, app)
        table = app.query_one(RunsTable)
        row = " ".join(str(cell) for cell in table.get_row_at(0))
    assert "% with TTA" in status, status
    assert "with TTA" in summary, summary
    assert wrong and f"conf. {short_percent(wrong[0].confidence)} (TTA)" in detail, detail
    assert "% TTA" in row, row
