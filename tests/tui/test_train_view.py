"""The Train view at 80x24: the loss chart's log scale and smoothing keys, the form during a run, lr steering keys."""

from __future__ import annotations

import contextlib
import re

from textual.widgets import Button, Input, Static

from mnist_tui.core.runs import read_lr_changes
from mnist_tui.tui.panes.runs import RunsPane
from mnist_tui.tui.panes.train import TrainPane
from mnist_tui.tui.widgets.charts import LearningRateChart, LossChart
from mnist_tui.tui.widgets.hparam_form import HParamForm
from mnist_tui.tui.widgets.progress import ProgressLine
from tests.tui.test_app import SIZE, palette, ready, run_to_completion, set_field, start_paused, the_run
from tests.tui.terminal import TerminalMirror
from tests.tui.workers import workers_done


@contextlib.asynccontextmanager
async def app_at_80x24(app):
    """``app.run_test`` that stops a run left going by a failed assertion (a paused child would hold the exit)."""
    async with app.run_test(size=SIZE) as pilot:
        try:
            yield pilot
        finally:
            if app.controller.active:
                app.controller.stop()
                await workers_done(app)


def notifications(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_log_scale_and_smoothing_keys_work_while_typing_in_the_form(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        lr = app.query_one("#field-lr", Input)
        lr.focus()
        await pilot.pause()
        chart = app.query_one(LossChart)
        assert chart.heading() == "Loss (smoothed 0.6)" and not chart.log_scale
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert chart.log_scale and chart.heading() == "Loss (log10, smoothed 0.6)"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert chart.heading() == "Loss (log10, smoothed 0.9)"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert chart.heading() == "Loss (log10)"
        assert app.focused is lr and lr.value == "0.001"  # the keys did not type into the field
        header = str(app.query_one("#chart-tabs", Static).render())
        assert "^y log" in header and "^t smooth" in header  # the keys are named where the charts are
        # and from the palette
        await palette(pilot, "loss chart log")
        assert not chart.log_scale and chart.heading() == "Loss"
        await palette(pilot, "smooth the loss")
        assert chart.heading() == "Loss (smoothed 0.6)"


async def test_the_views_keys_work_as_the_app_opens_and_from_the_tab_bar(make_app):
    """The app opened with the focus on the tab bar, outside the Train view: ^y and ^t, named in the chart's
    header, did nothing, and the keys panel did not list them, until a field of the form was focused."""
    from textual.widgets import Tabs

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        chart = app.query_one(LossChart)
        assert app.query_one(HParamForm) in app.focused.ancestors  # the form's first field
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert chart.log_scale
        await pilot.press("shift+tab")  # back from the first field: not onto the tab bar, where the keys die
        await pilot.pause()
        assert not isinstance(app.focused, Tabs) and app.query_one(TrainPane) in app.focused.ancestors
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert not chart.log_scale


async def test_stop_pressed_on_its_button_stays_in_the_train_view(make_app):
    """enter on Stop, then y: Stop, disabled while focused, left nothing focused under the dialog; Textual then
    focused the first focusable widget of the DOM, the Results table in its hidden tab, and Results showed."""
    app = make_app()
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await start_paused(pilot, app)
        app.query_one("#stop-button", Button).focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await app.wait_for_event("stopped")
        await ready(pilot, app)
        assert app.query_one("#tabs").active == "train"
        assert app.focused is not None and app.query_one(TrainPane) in app.focused.ancestors


async def test_the_form_is_disabled_during_a_run_and_focus_goes_to_the_buttons(make_app):
    app = make_app()
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        epochs = app.query_one("#field-epochs", Input)
        assert app.focused is epochs
        form = app.query_one(HParamForm)
        assert not form.disabled
        await start_paused(pilot, app)
        assert form.disabled  # the running run keeps the config it started with
        note = app.query_one("#form-locked", Static)
        assert note.display and str(note.render()) == "Form locked until the run ends."  # paused: not "trains"
        assert not any(w.focusable for w in form.query("Input, Select"))
        assert app.focused is app.query_one("#pause-button", Button)  # visible, and useful now
        await pilot.press("tab")
        assert app.focused is app.query_one("#stop-button", Button)  # Tab skips the locked fields
        await pilot.press("5")  # typing goes nowhere: the running run keeps its config
        assert epochs.value == "2"
        await pilot.press("f6")
        await run_to_completion(pilot, app)
        assert app.run_state == "idle"
        assert not form.disabled and not note.display
        assert app.focused is epochs  # the keys are back where they were before the run
        await pilot.press("end", "backspace", "3")
        assert epochs.value == "3"


async def test_steering_keys_halve_the_running_lr_and_it_shows_in_the_chart_and_on_disk(make_app):
    app = make_app()
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        lr = float(app.query_one("#field-lr", Input).value)
        await start_paused(pilot, app)
        pane = app.query_one(TrainPane)
        assert pane.check_action("steer", (0.5,)) is True
        offered = {key for key, active in app.screen.active_bindings.items() if active.enabled}
        assert {"minus", "plus"} <= offered  # in the footer while the run can be steered
        await pilot.press("minus")
        await pilot.pause()
        assert any("×0.5" in text for text in notifications(app)), notifications(app)
        await pilot.press("f6")  # the engine takes the new factor before its next batch
        await app.wait_for_event("lr_changed")
        await run_to_completion(pilot, app)
        assert app.events_seen[-1] == "finished"
        chart = app.query_one(LearningRateChart)
        assert len(chart.train) > 1 and all(abs(y - lr * 0.5) < 1e-12 for y in chart.train.ys)
        changes = read_lr_changes(the_run(app))
        assert [(c["lr_factor"], c["epoch"], c["step"], c["global_step"]) for c in changes] == [(0.5, 1, 0, 0)]
        # once the run is over the keys are not offered, and "-" goes to the form again: where a number may
        # take it (a sign), not after one ("0.001-", as "+" made "0.5+++++" of it: walk22 F10)
        assert pane.check_action("steer", (0.5,)) is False
        field = app.query_one("#field-lr", Input)
        field.focus()
        before = field.value
        await pilot.press("end", "minus")
        after_number = field.value
        await pilot.press("ctrl+u", "minus")
        assert after_number == before and field.value == "-"


async def test_steering_up_stops_at_the_forms_lr_limit_and_says_so_in_one_toast(make_app):
    """Each key press stacked a toast: twenty of them hid the LR chart for ten seconds (walk20 F7)."""
    app = make_app()
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "lr", "2")
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)
        await pilot.press("plus")
        await pilot.pause()
        assert notifications(app) == ["Learning rate ×2 the schedule from the next batch (×2 by this key)."]
        await pilot.press("plus", "plus")  # x2 each: lr 4, 8, then 10 (x5), not 16
        await pilot.pause()
        assert app.controller.lr_factor == 5.0
        assert notifications(app) == ["Learning rate ×5 the schedule from the next batch (×1.25 by this key)."]
        await pilot.press("plus")
        await pilot.pause()
        # the limit as a rate: it read "x666.667 the schedule" for fast's 0.015 (walk34 F7)
        assert notifications(app) == ["The learning rate is at its limit: lr 10 at most, ×5 the schedule."]
        for factor in (0.5, 2.0, 2.0):  # keys in a burst, handled before their toasts were: they stacked
            app.run_view.steer(factor)
        await pilot.pause()
        assert notifications(app) == ["The learning rate is at its limit: lr 10 at most, ×5 the schedule."]
        await pilot.press("f7")
        await pilot.pause()
        await pilot.press("y")
        await app.wait_for_event("stopped")


async def test_the_first_run_chart_key_hints_fit_80_columns(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        header = app.query_one("#chart-tabs", Static)
        text = str(header.render())
        assert text.rstrip().endswith("^t smooth") and len(text.rstrip()) <= header.size.width


async def test_a_run_rebuilds_the_footer_only_when_its_keys_change(make_app):
    # Textual's footer rebuilds itself on every refresh_bindings: once per batch of points it cost
    # the training child about a tenth of its speed on 2 cores (benchmarks/ui_overhead.py)
    app = make_app()
    refreshed_during_run = []
    refresh = app.refresh_bindings

    def counting_refresh() -> None:
        if "started" in app.events_seen and app.controller.active:  # the keys are those of a running run
            refreshed_during_run.append(list(app.events_seen))
        refresh()

    app.refresh_bindings = counting_refresh
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "3")
        await pilot.press("f5")
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        assert app.events_seen.count("step") >= 3 and app.events_seen.count("epoch") == 3
        assert refreshed_during_run == []
        # the keys did change at the end: the footer offers f5 again and no longer the steering keys
        offered = {key for key, binding in app.screen.active_bindings.items() if binding.enabled}
        assert "f5" in offered and "minus" not in offered


async def test_steering_while_the_run_starts_applies_from_its_first_batch(make_app):
    app = make_app()
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        lr = float(app.query_one("#field-lr", Input).value)
        app.action_start()  # as f5 does; the tiny run would be over by the time a second key press returns
        assert app.controller.state.value == "starting"
        await pilot.press("minus")  # queued like a pause, or sent to the child, before its first batch
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        changes = read_lr_changes(the_run(app))
        assert [(c["lr_factor"], c["epoch"], c["step"]) for c in changes] == [(0.5, 1, 0)]
        chart = app.query_one(LearningRateChart)
        assert chart.train.ys and all(abs(y - lr * 0.5) < 1e-12 for y in chart.train.ys)


async def test_a_finished_runs_curve_is_drawn_to_its_last_step(make_app):
    """An epoch's end redrew the chart before that bundle's last points were added, and the throttled redraw
    skipped them: a finished 1-epoch run's loss curve stopped near 0.6 epochs, a 3-epoch one near 2.65."""
    app = make_app()
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await pilot.press("f5")
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        chart = app.query_one(LossChart)
        xs, _ = chart.drawn["train"]
        assert xs and xs[-1] == 1.0, xs[-5:]  # the last step of the one epoch


async def test_the_finished_toast_leaves_nothing_behind_on_the_terminal_when_it_expires(make_app):
    # Textual 8.2 forgets to redraw the area of an expiring toast when the screen's widget map was
    # rebuilt lazily in the meantime (after a run, the Results pane updates while it is hidden):
    # the toast stayed drawn over the chart and the status line until another view was opened
    app = make_app()
    app.NOTIFICATION_TIMEOUT = 2.0
    terminal = TerminalMirror(app, SIZE)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await ready(pilot, app)
        await pilot.press("f5")
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        # the toast: "RUN · last (epoch 1): test ..% · f2 Results" (it nested brackets, "(RUN · last (epoch 1))",
        # walk40 F11)
        said = [str(n.message) for n in app._notifications]
        assert any(re.fullmatch(r"\S+ · last \(epoch 1\): test \d+\.\d\d% · f2 Results", m) for m in said), said
        assert any("· last (epoch" in frame for frame in terminal.frames), terminal.frames[-1]
        while app.screen.query("Toast"):
            await pilot.pause(0.1)
        await pilot.pause()
        await pilot.pause(0.6)
        assert "· last (epoch" not in terminal.text(), terminal.text()
        assert "▌" not in terminal.text(), terminal.text()  # nor the toast's left edge


async def test_a_resumed_run_is_steered_on_from_the_factor_it_stopped_with(make_app):
    app = make_app()
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)
        await pilot.press("plus")  # x2, taken at the next batch: the stop's
        await pilot.pause()
        assert "lr×2" in str(app.query_one(ProgressLine).render())  # said at once, not only once resumed
        await pilot.press("f7")
        await pilot.pause()
        await pilot.press("y")
        await app.wait_for_event("stopped")
        await ready(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        app.query_one(RunsPane).action_resume_run()  # as r does; paused before its first batch
        await pilot.pause()
        shown = [str(n.message) for n in app._notifications], str(app.query_one(ProgressLine).render())
        assert app.run_state == "starting", (app.run_state, shown)  # the child is still importing torch
        app.action_pause()
        await app.wait_for_event("paused", count=2)
        await pilot.pause()
        assert "lr×2" in str(app.query_one(ProgressLine).render())  # it trains on at x2, and says so
        await pilot.press("minus")
        await pilot.pause()
        said = notifications(app)
        assert any("×1 the schedule from the next batch (×0.5 by this key)" in text for text in said), said
        await pilot.press("f6")
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        assert [c["lr_factor"] for c in read_lr_changes(the_run(app))] == [2.0, 1.0]  # halved, not quartered


async def test_the_run_keys_fit_the_footer_of_draw_and_tune_while_a_run_trains(make_app):
    app = make_app()
    terminal = TerminalMirror(app, SIZE)
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)
        for key in ("f9", "f10"):  # Draw, Tune: "... ^q Quit f6 Resume f7 Sto▏^p palette" before
            await pilot.press(key)
            await pilot.pause()
            footer = terminal.lines()[-1]
            assert "f6 Resume" in footer and "f7 Stop " in footer, footer
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("f7", "y")
        await app.wait_for_event("stopped")
        await ready(pilot, app)


async def test_the_end_of_an_earlier_runs_child_leaves_the_new_run_alone(make_app):
    """A run stopped, then resumed before its child had exited: that child's end closed the new run's "Stop
    training?" as if the new run had ended; its line and state stay too."""
    from mnist_tui.tui.messages import RunEnded

    app = make_app()
    async with app_at_80x24(app) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)
        before = str(app.query_one(ProgressLine).render())
        await pilot.press("f7")  # "Stop training?" is up
        await pilot.pause()
        app.post_message(RunEnded(app.controller.serial - 1))  # the earlier run's child is gone, only now
        await pilot.pause()
        after, state, asking = str(app.query_one(ProgressLine).render()), app.run_state, type(app.screen).__name__
        await pilot.press("n")
    assert "paused" in before.lower() and after == before and state == "paused", (before, after, state)
    assert asking == "ConfirmScreen", asking
