"""The status line: its hints fit 80 columns, and the ETA of a resumed run counts only this session's pace."""

from __future__ import annotations

import pytest

from mnist_tui.tui.widgets.progress import ProgressLine, RunProgress, fit_message
from tests.tui.test_app import SIZE, ready

FINISHED = ("Finished mlp-20261125-030016 · last (epoch 3) · test 91.00% · best val 92.00% · 50k/s · "
            "f2 Results · f3 Misclassified")
STOPPED = ("Stopped mlp-20261125-030016 at epoch 1, step 412 · saved /home/me/checkpoints/mlp-20261125-030016/"
           "last.pt · resume from Runs (r)")


def test_long_messages_keep_their_key_hints_and_drop_the_least_important_parts():
    fitted = fit_message(FINISHED, 78)
    assert len(fitted) <= 78
    assert fitted.startswith("Finished mlp-20261125-030016") and "test 91.00%" in fitted
    assert fitted.endswith("f2 Results · f3 Misclassified")
    assert "50k/s" not in fitted and "best val" not in fitted  # the rate goes first, then best val
    stopped = fit_message(STOPPED, 78)
    assert len(stopped) <= 78 and stopped.endswith("resume from Runs (r)") and "step 412" in stopped
    assert fit_message(STOPPED, 200) == STOPPED  # room enough: unchanged
    narrow = fit_message(FINISHED, 50)  # the result stays over a second hint (it went at 60 columns: walk34 F8)
    assert narrow == "Finished mlp-202…016 · test 91.00% · f2 Results", narrow
    walk = "Finished fastcnn-20261206-174751 · test 99.04% · f2 Results · f3 Misclassified"
    assert fit_message(walk, 58) == "Finished fastcnn…751 · test 99.04% · f2 Results", fit_message(walk, 58)
    assert fit_message(walk, 78) == walk
    assert fit_message(walk, 30) == "Finis…51 · f2 Results", fit_message(walk, 30)  # the first hint stays
    failure = "Failed: cannot read /data/MNIST/raw/train-images-idx3-ubyte: permission denied " * 2
    assert fit_message(failure, 78) == failure  # no hint to keep: the end is cut by the widget


def test_a_cut_headline_keeps_its_words_and_shortens_the_run_name():
    """At 80 columns the stop line read "Stopped fastcnn-20261205-230326 in e…h 1 after step 179" (walk27 F2)."""
    message = ("Stopped fastcnn-20261205-230326 in epoch 1 after step 179 · saved last.pt · resume from Runs (r)")
    fitted = fit_message(message, 76)
    assert len(fitted) <= 76 and fitted.endswith("resume from Runs (r)"), fitted
    assert "in epoch 1 after step 179" in fitted and fitted.startswith("Stopped fastcnn-"), fitted


def resumed_run() -> RunProgress:
    """A run resumed at step 100 of 200 after 60 s of training; this session runs 2 steps a second."""
    progress = RunProgress()
    progress.update(state="running", epochs=2, steps_per_epoch=100, global_step=100, start_step=100,
                    elapsed_s=0.0)
    progress.update(global_step=110, elapsed_s=65.0)  # the first point carries the earlier 60 s
    progress.update(global_step=120, elapsed_s=70.0)
    return progress


def test_eta_after_a_resume_uses_this_sessions_pace_only():
    progress = resumed_run()
    assert progress.remaining_s() == pytest.approx(80 / 2)  # 80 steps left at 2 a second, not 80 * 70/20
    fresh = RunProgress()
    fresh.update(state="running", epochs=1, steps_per_epoch=100, global_step=0, start_step=0, elapsed_s=0.0)
    fresh.update(global_step=25, elapsed_s=10.0)
    assert fresh.remaining_s() == pytest.approx(30.0)
    again = RunProgress()
    again.update(state="running", epochs=2, steps_per_epoch=100, global_step=100, start_step=100, elapsed_s=0.0)
    again.update(global_step=110, elapsed_s=65.0)
    assert again.remaining_s() is None  # one point of this session: no pace yet, rather than a wrong one


async def test_status_line_fits_80_columns_in_the_app(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        line = app.query_one(ProgressLine)
        # a long run resumed after an hour of training, then paused: this session ran 200 steps a minute
        line.update_progress(state="running", epoch=10, epochs=15, step=0, steps_per_epoch=1688,
                             global_step=15192, start_step=15192, samples_per_s=0.0, elapsed_s=0.0, best_val=None)
        line.update_progress(epoch=10, step=1000, global_step=16192, samples_per_s=12345.0, elapsed_s=3660.0)
        line.update_progress(epoch=10, step=1200, global_step=16392, samples_per_s=12345.0, elapsed_s=3720.0,
                             best_val=0.9912, state="paused")
        await pilot.pause()
        text = str(line.render())
        # ETA: 8928 steps left at 200 a minute (the earlier hour does not count as time spent on them)
        assert "1:02:00 +44:38" in text, text
        assert len(text) <= line.content_size.width, text  # the less important parts gave way, PAUSED stays
        assert text.startswith("⏸ E10/15") and "1200/1688" in text and text.rstrip().endswith("PAUSED f6")
        line.update_progress(lr_factor=0.5)  # a steered run says so, and still fits
        await pilot.pause()
        text = str(line.render())
        assert "lr×0.5" in text and len(text) <= line.content_size.width and text.rstrip().endswith("PAUSED f6")
        app.set_progress(state="idle", message=FINISHED)
        await pilot.pause()
        text = str(line.render())
        assert len(text) <= line.content_size.width and text.endswith("f3 Misclassified")


async def test_a_message_too_long_for_the_line_ends_in_an_ellipsis(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        line = app.query_one(ProgressLine)
        name = "a-run-name-long-enough-to-need-more-than-one-line-of-the-status-bar-20261203"
        app.set_progress(state="failed", message=f"Cannot start: {name} exists: pick another run name, or resume it")
        await pilot.pause()
        text = str(line.render())
        # cut with "…" where it ends (Textual wrapped it at a space and the one row showed "Cannot start:" alone)
        assert len(text) == line.content_size.width and text.startswith(f"Cannot start: {name[:40]}")
        assert text.endswith("…")


def test_the_rate_shown_is_steadier_than_each_windows():
    # each point's rate is one half-second window's: on a busy machine 552/s, 36k/s, 23k/s, 658/s in 4 seconds
    progress = RunProgress()
    progress.update(state="running", epochs=1, steps_per_epoch=100, global_step=0, start_step=0, samples_per_s=0.0)
    shown = []
    for rate in (20_000, 552, 36_000, 23_000, 658, 21_000):
        progress.update(samples_per_s=rate)
        shown.append(progress.samples_per_s)
    assert shown[0] == 20_000  # the first is taken as it is
    assert all(9_000 < s < 25_000 for s in shown), shown
    progress.update(start_step=0, samples_per_s=0.0)  # a new run starts from nothing
    progress.update(samples_per_s=500)
    assert progress.samples_per_s == 500


async def test_the_line_says_when_the_run_validates_and_tests_between_batches(make_app):
    """After an epoch's last batch the line stood at "215/215 … +0:00" for 7 s while the run validated and
    tested, still "▶" as if training (walk34 F5; about 30 s of TTA testing for best)."""
    from mnist_tui.core.config import TrainConfig
    from mnist_tui.core.events import EpochEnd, StepMetrics

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        line = app.query_one(ProgressLine)
        app.controller.config = TrainConfig(epochs=2, tta=True)
        line.update_progress(state="running", epoch=1, epochs=2, step=0, steps_per_epoch=10, global_step=0,
                             start_step=0, elapsed_s=0.0, best_val=None)

        async def after(*events) -> str:
            app.run_view.show(list(events))
            await pilot.pause()
            return str(line.render())

        def step(epoch: int, at: int) -> StepMetrics:
            return StepMetrics(epoch, at, 10, (epoch - 1) * 10 + at, 0.5, 0.9, 1e-3, 1000.0, float(at))

        def end(epoch: int) -> EpochEnd:
            return EpochEnd(epoch, 2, 0.5, 0.9, 0.4, 0.95, 0.95, 1e-3, 10.0)

        mid = await after(step(1, 5))
        validating = await after(step(1, 10))
        next_epoch = await after(end(1), step(2, 1))
        testing = await after(step(2, 10), end(2))
    assert "k/s" in mid and "validating" not in mid
    assert "10/10 │ validating… │" in validating, validating
    assert "validating" not in next_epoch and "testing" not in next_epoch
    assert "│ testing with TTA… │" in testing, testing


def test_a_phase_outlasts_best_val_beside_a_long_steering_factor():
    """At the cap the factor read lr×666.667, and "testing…" was the first part to go: the line stood still for
    the test again (walk36 F1). The factor reads ×666.7, and best val goes before the phase."""
    progress = RunProgress()
    progress.update(state="running", epoch=1, epochs=1, step=215, steps_per_epoch=215, global_step=215,
                    start_step=0, samples_per_s=4800.0, elapsed_s=15.0, best_val=0.1102, lr_factor=2000 / 3,
                    phase="testing…")
    line = ProgressLine()
    line.progress = progress
    text = str(line._run_line(78))
    assert "│ testing… │" in text and "lr×666.7" in text and len(text) <= 78, text
