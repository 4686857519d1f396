"""Starting from the Train form at 80x24: what a refused or failed start leaves on screen."""

from __future__ import annotations

from textual.widgets import Select

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
        await set_field(pilot, app, "lr", "abc")
        await pilot.press("f5")
        await pilot.pause()
        assert "Cannot start: learning rate must be a number, got 'abc'" in status_line(app)
        await set_field(pilot, app, "lr", "-1")  # still wrong: the line says what is wrong now
        assert "Cannot start: learning rate must be > 0" in status_line(app)
        await set_field(pilot, app, "lr", "0.003")  # valid: the refusal goes, the line before it is back
        assert "Cannot start" not in status_line(app) and status_line(app) == ready_line
        # the same when a preset fixes the form
        await set_field(pilot, app, "epochs", "two")
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
