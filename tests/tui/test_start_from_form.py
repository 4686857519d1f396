"""Starting from the Train form at 80x24: what a refused or failed start leaves on screen."""

from __future__ import annotations

from textual.widgets import Input, Select, Static

from mnist_tui.tui.widgets.charts import LossChart
from mnist_tui.tui.widgets.progress import ProgressLine
from tests.tui.test_app import SIZE, ready, set_field


def status_line(app) -> str:
    return str(app.query_one(ProgressLine).render())


async def test_a_cannot_start_message_follows_the_form_and_goes_once_it_is_valid(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ready_line = status_line(app)
        assert ready_line.startswith("Ready")
        await set_field(pilot, app, "lr", "1e")
        await pilot.press("f5")
        await pilot.pause()
        assert "Cannot start: learning rate must be a number, got '1e'" in status_line(app)
        await set_field(pilot, app, "lr", "-1")  # still wrong: the line says what is wrong now
        assert "Cannot start: learning rate must be > 0" in status_line(app)
        await set_field(pilot, app, "lr", "0.003")  # valid: the refusal goes, the line before it is back
        assert "Cannot start" not in status_line(app) and status_line(app) == ready_line
        # the same when a preset fixes the form
        await set_field(pilot, app, "epochs", "-")
        await pilot.press("f5")
        await pilot.pause()
        assert "Cannot start: epochs must be a whole number" in status_line(app)
        app.query_one("#preset", Select).value = "fast"
        await pilot.pause()
        assert app.query_one("#field-epochs").value == "1"
        # the preset's 5,000 validation digits do not fit the 600 synthetic ones: the line says that now
        assert "Cannot start: val size must be below the 600 training digits" in status_line(app)
        await set_field(pilot, app, "val_size", "100")
        assert "Cannot start" not in status_line(app) and status_line(app) == ready_line
        assert app.run_state == "idle" and not app.checkpoints_dir.exists()


async def test_a_taken_run_name_is_refused_in_the_apps_words_and_kept_and_failed_starts_leave_idle_charts(
        make_app, synthetic_data, tmp_path):
    from tests.core.tiny_runs import TINY, train_tiny_run

    train_tiny_run(synthetic_data, tmp_path / "runs", "int1", TINY.replace(epochs=1))
    before = sorted(p.name for p in (tmp_path / "runs" / "int1").iterdir())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        chart = app.query_one(LossChart)
        await set_field(pilot, app, "run_name", "int1")
        await pilot.press("f5")
        await ready(pilot, app)
        wanted = "int1 exists: pick another run name, or resume it in Runs (r)"
        assert f"Cannot start: {wanted}" in status_line(app)
        # under the field, as it was typed (walk40 F3), as any field's error: no CLI flags, no path
        assert str(app.query_one("#error-run_name", Static).render()) == wanted
        assert app.query_one("#field-run_name", Input).value == "int1"  # the typed name is kept
        assert app.focused is app.query_one("#field-run_name", Input)
        assert app.run_state == "idle" and chart.waiting is None  # the charts never said "starting…"
        assert sorted(p.name for p in (tmp_path / "runs" / "int1").iterdir()) == before
        await set_field(pilot, app, "run_name", "int2")  # a free name: the refusal goes
        assert "Cannot start" not in status_line(app)
        # a start that fails in the child (a run folder that is not there) gives the idle charts back
        app.run_view.start(None, str(tmp_path / "no-such-run"))
        assert chart.waiting == "starting…"
        await ready(pilot, app)
        assert app.query_one(ProgressLine).progress.state == "failed" and chart.waiting is None
        assert app.query_one("#field-run_name", Input).value == "int2"
        await pilot.press("f5")  # and the name is cleared once its run has started
        await app.wait_for_event("finished")
        await ready(pilot, app)
        assert (tmp_path / "runs" / "int2" / "last.pt").is_file()
        assert app.query_one("#field-run_name", Input).value == ""
