"""A study's end read by the Tune view after Start had begun another must leave the new study alone."""

from __future__ import annotations

import pytest
from textual.widgets import Button

from mnist_tui.tui.screens.tune import TuneScreen
from mnist_tui.tui.widgets.tune_records import TrialRecords
from tests.tui.test_tune_screen import BASE, SIZE, Host, set_input

pytest.importorskip("optuna")


async def a_trial_trains(pilot, screen: TuneScreen) -> None:
    await pilot.click("#tune-start")
    while not any(t.get("state") == "running" for t in screen.trials.values()):
        await pilot.pause()


async def stopped(pilot, screen: TuneScreen) -> None:
    screen.action_stop()
    await screen.tune_worker.wait()
    while screen.query_one("#tune-stop", Button).disabled is False:
        await pilot.pause()


async def test_a_studys_end_read_after_a_new_start_leaves_the_new_study_running(tmp_path, synthetic_root):
    """`running` reads the process: Start pressed between one study's exit and the view reading it began a second
    study, and the first one's late "exited" then turned Stop off and Start on, and said the first one's outcome,
    while the second trained on."""
    screen = TuneScreen(BASE.replace(epochs=1000), checkpoints_dir=tmp_path / "runs", data_dir=synthetic_root,
                        preset="seed-mlp", study="again")
    async with Host(screen).run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "lr=1e-3:3e-2:log")
        await set_input(pilot, screen, "#tune-trials", "3")
        await a_trial_trains(pilot, screen)
        first = screen.child
        await stopped(pilot, screen)
        await a_trial_trains(pilot, screen)
        assert screen.child is not first
        screen.post_message(TrialRecords([], "tune", finished={"event": "exited", "code": 130, "child": first}))
        await pilot.pause()
        await pilot.pause()
        after = (screen.query_one("#tune-stop", Button).disabled, screen.query_one("#tune-start", Button).disabled,
                 screen.running)
        await stopped(pilot, screen)
    assert after == (False, True, True), after  # Stop on, Start off: the second study is still the one shown
