"""The Tune screen at 80x24: start a real (tiny) study, watch its rows, use the best; attach to a study."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Button, DataTable, Input, Label, Select, Static
from textual.worker import WorkerCancelled
from textual.widgets._footer import FooterKey

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.tune_space import tidy
from mnist_tui.tui.screens.tune import TuneScreen
from mnist_tui.tui.widgets.dialogs import ConfirmScreen
from mnist_tui.tui.widgets.tune_charts import EpochChart, HistoryChart, ImportanceBars
from mnist_tui.tui.widgets.tune_form import TuneForm
from tests.tui.workers import workers_done

optuna = pytest.importorskip("optuna")

SIZE = (80, 24)
BASE = TrainConfig(model="mlp", hidden=(16,), epochs=1, batch_size=64, optimizer="adam", lr=3e-3, schedule="constant",
                   weight_decay=0.0, dropout=0.0, val_size=100, threads=1)


class Host(App):
    """Stands in for the app: pushes the screen and keeps the messages it posts."""

    def __init__(self, screen: TuneScreen) -> None:
        super().__init__()
        self.tune_screen = screen
        self.best_configs: list[TuneScreen.UseBest] = []
        self.opened: list[str] = []

    def on_mount(self) -> None:
        self.push_screen(self.tune_screen)

    def on_tune_screen_use_best(self, message: TuneScreen.UseBest) -> None:
        self.best_configs.append(message)

    def on_tune_screen_open_run(self, message: TuneScreen.OpenRun) -> None:
        self.opened.append(message.run_dir)


def make_screen(tmp_path, synthetic_root, **kwargs) -> TuneScreen:
    return TuneScreen(BASE, checkpoints_dir=tmp_path / "runs", data_dir=synthetic_root, preset="seed-mlp",
                      study="ui", **kwargs)


async def attach(pilot, screen) -> None:
    """Press Attach and wait until the storage's first answer is on screen."""
    await pilot.click("#tune-attach")
    await asyncio.to_thread(screen.first_poll_applied.wait, 60)
    await pilot.pause()


def one_trial_study(tmp_path, name: str, lr: float, value: float) -> str:
    """A study in tmp_path's shared.db holding one complete trial of that lr; its storage URL."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    distribution = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": lr}, distributions={"lr": distribution}, value=value))
    return storage


async def set_input(pilot, screen, selector: str, value: str) -> None:
    screen.query_one(selector).value = value
    await pilot.pause()


def test_the_history_charts_value_axis_has_at_least_three_labels():
    """Trials at 98.98-99.12% got labels at 99.0 and 99.1 alone: the upper third of the chart was unlabelled."""
    from mnist_tui.tui.widgets.tune_charts import nice_ticks, tick_labels

    assert nice_ticks(98.93, 99.17, 5) == [98.95, 99.0, 99.05, 99.1, 99.15]
    assert nice_ticks(90, 100, 5) == [90, 95, 100] and nice_ticks(0, 7, 6, whole=True) == [0, 2, 4, 6]
    assert tick_labels([98.95, 99.0, 99.05]) == ["98.95", "99.00", "99.05"] and tick_labels([90, 95]) == ["90", "95"]


async def test_the_view_proposes_as_many_trials_as_the_cli_runs(tmp_path, synthetic_root):
    """The view said 10 and `mnist-tui tune` 20; neither said so."""
    from mnist_tui.cli import build_parser

    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        trials = screen.query_one("#tune-trials").value
    assert trials == str(build_parser().parse_args(["tune"]).trials) == "20"


async def test_start_shows_the_trials_and_use_best_sends_the_config(tmp_path, synthetic_root):
    screen = make_screen(tmp_path, synthetic_root)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "lr=1e-3:3e-2:log")
        await set_input(pilot, screen, "#tune-trials", "2")
        assert screen.query_one("#tune-best", Button).disabled  # nothing to use yet
        await pilot.click("#tune-start")
        assert screen.running and screen.query_one("#tune-start", Button).disabled
        await screen.tune_worker.wait()
        while screen.running or screen.query_one("#tune-stop", Button).disabled is False:
            await pilot.pause()
        table = screen.query_one("#tune-table", DataTable)
        assert table.row_count == 2
        assert {t["state"] for t in screen.trials.values()} == {"complete"}
        best = screen.best()
        assert best["value"] == max(t["value"] for t in screen.trials.values())
        status = str(screen.query_one("#tune-status", Static).render())  # the best stays said once it ends
        assert f"2 trials · 2 complete · best {best['value']:.2%} (#{best['number']})" in status, status
        # and what Start adds to it now: the line was blank until the view was opened again (walk41 F8)
        assert status.splitlines()[-1] == "ctrl+s runs 2 more trials in it", status
        assert "bold green" in str(table.get_row(str(best["number"]))[0].style)
        assert not screen.query_one("#tune-best", Button).disabled
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert len(app.best_configs) == 1
        sent = app.best_configs[0]
        # the trial trained its lr tidied (Optuna keeps the whole float; the form got 17 digits of it)
        assert sent.config == BASE.replace(lr=tidy(best["params"]["lr"])) and sent.run_dir == best["run_dir"]
        assert (tmp_path / "runs" / "tune.db").is_file()


async def test_a_long_search_shows_its_start_again_once_left(tmp_path, synthetic_root):
    """Tab into the search, to its end, and out: it kept showing 'r=2e-3…'."""
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "lr=2e-3:3e-2:log batch_size=64,128,256 momentum=0.6:0.95 "
                                                       "width=16:40:8 dropout=0:0.3")
        search = screen.query_one("#tune-search", Input)
        search.focus()
        await pilot.press("end")
        await pilot.pause()
        assert search.scroll_offset.x > 0  # the end of the text in view
        await pilot.press("tab")
        await pilot.pause()
        assert not search.has_focus and search.scroll_offset.x == 0
        shown = search.render_line(0).text
        assert shown.lstrip().startswith("lr=2e-3"), shown


async def test_invalid_search_is_shown_inline_and_start_is_disabled(tmp_path, synthetic_root):
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        assert not screen.query_one("#tune-start", Button).disabled
        await set_input(pilot, screen, "#tune-search", "lr=0:1")
        assert "learning rate must be > 0 and <= 10, got 0" in str(screen.query_one("#tune-status", Static).render())
        assert screen.query_one("#tune-start", Button).disabled
        assert screen.check_action("start", ()) is False
        await set_input(pilot, screen, "#tune-search", "x")  # said "--search takes FIELD=SPEC": the field is "search"
        shown = str(screen.query_one("#tune-status", Static).render())
    assert shown.startswith("search takes FIELD=SPEC (e.g. lr=1e-4:1e-1:log), got 'x'"), shown


def test_a_storage_snapshot_from_before_a_trial_ended_never_undoes_its_end():
    """Read between a trial's run letting go of its folder and Optuna being told it was complete, the storage
    says running, read as "stopped" (no process holds the run): CI saw a finished study show it so."""
    from mnist_tui.tui.widgets.tune_records import merge_records

    trials = {0: {"number": 0, "state": "complete", "value": 0.93}, 1: {"number": 1, "state": "pruned", "value": 0.5}}
    merge_records(trials, [{"number": 0, "state": "stopped", "value": 0.91}, {"number": 1, "state": "running"}])
    assert trials[0]["state"] == "complete" and trials[0]["value"] == 0.93 and trials[1]["state"] == "pruned"
    merge_records(trials, [{"number": 2, "state": "stopped"}])  # a trial really left behind still reads stopped
    merge_records(trials, [{"number": 2, "state": "complete", "value": 0.95}])  # and completes once resumed
    assert trials[2]["state"] == "complete"


async def test_attach_shows_a_study_fed_from_elsewhere(tmp_path, synthetic_root):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for value, rate in ((0.91, 1e-3), (0.95, 3e-3)):
        study.add_trial(optuna.trial.create_trial(params={"lr": rate}, distributions={"lr": lr}, value=value,
                                                  user_attrs={"run_dir": str(tmp_path / f"run-{rate}")}))
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        assert screen.query_one("#tune-table", DataTable).row_count == 2
        assert screen.best()["params"] == {"lr": 3e-3}
        screen.query_one("#tune-table", DataTable).focus()
        await pilot.press("enter")  # the cursor is on trial 0, whose run folder is not here
        await pilot.pause()
        # it opened empty views under "Evaluation failed: no such checkpoint file" (walk31 F1)
        assert app.opened == [] and any("run-0.001 is not here: deleted, or trained on another machine"
                                        in str(n.message) for n in app._notifications)
        (tmp_path / "run-0.001").mkdir()
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == [str(tmp_path / "run-0.001")]
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.best_configs[-1].config.lr == 3e-3


async def test_use_best_on_a_study_started_elsewhere_gives_its_fixed_fields_too(tmp_path, synthetic_root):
    """The searched values were laid over the Train form's config: a study started with batch 32 and a hidden
    layer of 24 sent batch 64 and 16 with its best lr, a config no trial trained, as "the best trial's config"
    (walk30 F1). Where the trials ran (device, threads) stays this machine's."""
    storage = one_trial_study(tmp_path, "ui", 3e-3, 0.95)
    started = BASE.replace(batch_size=32, hidden=(24,), threads=2)
    optuna.load_study(study_name="ui", storage=storage).set_user_attr("base_config", started.to_dict())
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        await pilot.press("ctrl+b")
        await pilot.pause()
    assert app.best_configs[-1].config == started.replace(lr=3e-3, threads=BASE.threads)


async def test_the_study_tune_opens_on_is_read_however_slowly_and_kept_watched(tmp_path, synthetic_root,
                                                                               monkeypatch):
    """The fields' first values (Input.Changed as the view mounted) forgot the study it had just attached to: its
    reader stopped after one read, or before any when the storage was slow to answer, so trials from other
    machines never came in, and under load the table stayed empty or half drawn (walk30 F3)."""
    import threading

    from mnist_tui.tui.screens import tune

    go, real = threading.Event(), tune.watch_storage

    def slow_first_read(*args) -> None:
        go.wait(60)
        real(*args)

    monkeypatch.setattr(tune, "watch_storage", slow_first_read)
    storage = one_trial_study(tmp_path, "ui", 3.14159e-3, 0.95)
    screen = make_screen(tmp_path, synthetic_root, storage=storage, poll_seconds=0.05)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(3):
            await pilot.pause()
        go.set()
        await asyncio.to_thread(screen.first_poll_applied.wait, 60)
        for _ in range(3):
            await pilot.pause()
        table = screen.query_one("#tune-table", DataTable)
        rows = table.row_count, [table.render_line(y).text for y in range(2)]
        study = optuna.load_study(study_name="ui", storage=storage)  # another machine's trial ends
        study.add_trial(optuna.trial.create_trial(params={"lr": 1e-2}, value=0.97,
                                                  distributions=study.trials[0].distributions))

        async def second_trial_shown() -> None:
            while table.row_count < 2:
                await pilot.pause()
        await asyncio.wait_for(second_trial_shown(), 60)
    assert rows[0] == 1 and rows[1][1].split()[:4] == ["0", "complete", "95.00%", "0.003142"], rows


async def test_home_and_end_go_to_the_first_and_last_trial(tmp_path, synthetic_root):
    """End did nothing in the trials table (walk30 F12): DataTable's scrolls sideways; in Runs it goes to the last."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for value in (0.91, 0.92, 0.93):
        study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions={"lr": lr}, value=value))
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        table = screen.query_one("#tune-table", DataTable)
        table.focus()
        await pilot.press("end")
        at_end = table.cursor_row
        await pilot.press("home")
        at_home = table.cursor_row
    assert (at_end, at_home) == (2, 0)


@pytest.mark.parametrize("size", [SIZE, (60, 20)], ids=["80x24", "60x20"])
async def test_the_view_switch_names_the_view_shown(tmp_path, synthetic_root, size):
    """At 60 columns it read "f8: Trials" on every view: the names after it were cut (walk30 F5)."""
    screen = make_screen(tmp_path, synthetic_root)
    app = Host(screen)
    said = []
    async with app.run_test(size=size) as pilot:
        for _ in range(3):
            await pilot.press("f8")
            await pilot.pause()
            said.append(str(screen.query_one("#tune-view", Static).render()).strip())
    if size == SIZE:
        # the one shown is reversed (History, Importance, then Trials again), every name padded alike: the names
        # moved sideways at each f8 (walk41 F20)
        assert said == ["f8: Trials  History  Importance"] * 3, said
    else:
        assert said == ["f8: History", "f8: Importance", "f8: Trials"], said


async def test_starting_into_a_study_that_searched_other_fields_says_so(tmp_path, synthetic_root):
    """The CLI's note ("study 'ui' searched lr; this worker searches batch_size") went to the child's stderr, which
    the view reads only when it fails: it joined without a word, and the earlier trials showed "-" (walk30 F7)."""
    from mnist_tui.cli import main
    from mnist_tui.core.tune_space import config_flags

    assert main(["tune", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path / "runs"), "--study", "ui",
                 "--trials", "1", "--search", "lr=1e-3:3e-2:log", "--json", *config_flags(BASE, "seed-mlp")]) == 0
    screen = make_screen(tmp_path, synthetic_root)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "batch_size=8,16")
        await set_input(pilot, screen, "#tune-trials", "1")
        await pilot.press("ctrl+s")
        await screen.tune_worker.wait()
        await pilot.pause()
        said = [(n.title, n.message) for n in app._notifications]
    assert any(title == "Joining the study" and message.startswith("study 'ui' searched lr; this worker searches "
                                                                    "batch_size") for title, message in said), said


async def test_a_watched_study_whose_storage_goes_away_says_so_and_recovers(tmp_path, synthetic_root):
    """Its counts stayed on screen as if current, with no sign the storage could no longer be read (walk26 F4)."""
    storage = one_trial_study(tmp_path, "ui", 1e-3, 0.91)
    database = tmp_path / "shared.db"
    screen = make_screen(tmp_path, synthetic_root, storage=storage, poll_seconds=0.2)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        status = screen.query_one("#tune-status", Static)
        before = str(status.render())
        kept = database.read_bytes()
        database.write_bytes(b"not a database any more" * 200)  # the server gone, as far as this reader can tell
        while "cannot read" not in str(status.render()):
            await pilot.pause()  # the poller (every 0.2 s) says so
        lost, rows = str(status.render()), screen.query_one("#tune-table", DataTable).row_count
        database.write_bytes(kept)
        while "cannot read" in str(status.render()):
            await pilot.pause()
        back = str(status.render())
    assert "1 complete" in before and "best 91.00%" in before
    assert lost.startswith("study ui: cannot read the storage since ") and "as last read" in lost, lost
    assert rows == 1  # the trials as last read stay
    assert back == before


async def test_enter_in_the_study_field_attaches_to_the_study_it_names(tmp_path, synthetic_root):
    """Typing a study's name and pressing enter did nothing: only the Attach button (or the palette) read it."""
    storage = one_trial_study(tmp_path, "elsewhere", 2e-3, 0.93)
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        field = screen.query_one("#tune-study", Input)
        field.focus()
        field.value = ""
        await pilot.press(*"elsewhere", "enter")
        await asyncio.to_thread(screen.first_poll_applied.wait, 60)
        await pilot.pause()
        assert screen.query_one("#tune-table", DataTable).row_count == 1
        assert "study elsewhere: 1 trial" in str(screen.query_one("#tune-status", Static).render())


async def test_history_and_importance_views_draw_the_study(tmp_path, synthetic_root):
    """f8 cycles the lower area: trials, history charts (with epoch curves), importances (>= 4 complete)."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    batch = optuna.distributions.CategoricalDistribution([32, 64])
    finished = [(0.90, 1e-3, 32), (0.95, 3e-3, 64), (0.93, 2e-3, 32)]
    for value, rate, size in finished:
        study.add_trial(optuna.trial.create_trial(
            params={"lr": rate, "batch_size": size}, distributions={"lr": lr, "batch_size": batch}, value=value,
            intermediate_values={1: value - 0.02, 2: value}))
    study.add_trial(optuna.trial.create_trial(
        params={"lr": 1e-4, "batch_size": 64}, distributions={"lr": lr, "batch_size": batch},
        intermediate_values={1: 0.5}, state=optuna.trial.TrialState.PRUNED))
    screen = make_screen(tmp_path, synthetic_root, storage=storage, poll_seconds=0.2)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        assert screen.view == "tune-table" and screen.query_one("#tune-table", DataTable).row_count == 4
        await pilot.press("f8")
        await pilot.pause()
        assert screen.view == "tune-history"
        history, epochs = screen.query_one(HistoryChart), screen.query_one(EpochChart)
        assert history.region.width >= 30 and epochs.region.width >= 30  # side by side at 80 columns
        drawn = history.render().plain
        assert "History: best 95.00%" in drawn and "o done x pruned v 1 below 90%" in drawn  # whole at 80 columns
        # the best so far is a step: flat until trial 1 beats trial 0, then flat on to the last trial (a line
        # from point to point climbed across the trials between two complete ones)
        assert history.best_line == ([0, 1, 1, 3], [pytest.approx(90), pytest.approx(90), pytest.approx(95),
                                                     pytest.approx(95)])
        assert "Val acc % by epoch" in epochs.render().plain and screen.trials[1]["curve"] == {1: pytest.approx(0.93), 2: 0.95}
        await pilot.press("f8")
        await pilot.pause()
        assert screen.view == "tune-importance"
        bars = str(screen.query_one(ImportanceBars).render())
        assert "appear once 4 trials are complete (3 so far, 1 to go)" in bars
        study.add_trial(optuna.trial.create_trial(
            params={"lr": 5e-3, "batch_size": 64}, distributions={"lr": lr, "batch_size": batch}, value=0.96,
            intermediate_values={1: 0.94, 2: 0.96}))
        while "over 4 complete trials" not in str(screen.query_one(ImportanceBars).render()):
            await pilot.pause()  # the poller (every 0.2 s) computes them off the UI thread
        bars = str(screen.query_one(ImportanceBars).render())
        assert "lr " in bars and "batch_size " in bars and "█" in bars
        await pilot.press("f8")
        await pilot.pause()
        assert screen.view == "tune-table"
        titles = {c.title for c in screen.system_commands()}
        assert {"Tune: show trials", "Tune: show history", "Tune: show importance", "Tune: start the study",
                "Tune: attach to the study", "Tune: use the best trial"} <= titles


async def test_f10_study_from_the_app_and_use_best_fills_the_form(make_app):
    """Through the real app: f10, start a 2-trial study, watch its rows, switch to History, ctrl+b."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        await pilot.press("f10")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TuneScreen) and screen.base.val_size == 100
        await set_input(pilot, screen, "#tune-search", "lr=1e-3:3e-2:log batch_size=32,64")
        await set_input(pilot, screen, "#tune-trials", "2")
        screen.query_one("#tune-table", DataTable).focus()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen.running
        await screen.tune_worker.wait()
        while screen.running or not screen.query_one("#tune-stop", Button).disabled:
            await pilot.pause()
        assert screen.query_one("#tune-table", DataTable).row_count == 2
        assert {t["state"] for t in screen.trials.values()} == {"complete"}
        assert all(len(t["curve"]) == screen.base.epochs for t in screen.trials.values())
        await pilot.press("f8")
        await pilot.pause()
        assert "History: best" in screen.query_one(HistoryChart).render().plain
        best = screen.best()
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert not isinstance(app.screen, TuneScreen)
        form = {name: app.query_one(f"#field-{name}", Input).value for name in ("lr", "batch_size")}
        assert form["lr"] == f"{tidy(best['params']['lr']):g}" and len(form["lr"]) <= 8  # 0.02874, not 17 digits
        assert int(form["batch_size"]) == best["params"]["batch_size"]


async def test_the_stop_key_works_while_a_field_has_focus(tmp_path, synthetic_root):
    """The Stop key stops the study even with the cursor in an input (ctrl+x was taken by the Input: cut)."""
    screen = TuneScreen(BASE.replace(epochs=1000), checkpoints_dir=tmp_path / "runs", data_dir=synthetic_root,
                        preset="seed-mlp", study="stopme")
    stop_key = next(b.key for b in TuneScreen.BINDINGS if b.action == "stop")
    async with Host(screen).run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "lr=1e-3:3e-2:log")
        await set_input(pilot, screen, "#tune-trials", "3")
        await pilot.click("#tune-start")
        assert screen.running
        screen.query_one("#tune-trials", Input).focus()
        await pilot.pause()
        await pilot.press(stop_key)
        await pilot.pause()
        stopped_by_key = "stopping" in str(screen.query_one("#tune-status", Static).render())
        screen.action_stop()  # either way the study ends, so the test does not hang
        await screen.tune_worker.wait()
        while screen.query_one("#tune-stop", Button).disabled is False:
            await pilot.pause()
        assert stopped_by_key
        assert screen.query_one("#tune-trials", Input).value == "3"  # not cut
        assert "stopped" in str(screen.query_one("#tune-status", Static).render())


async def open_tune_from_the_app(pilot, app, search: str, trials: str, epochs: str | None = None) -> TuneScreen:
    """f10 on the ready app (the form's epochs set first, when given), the search and trials filled in."""
    await workers_done(app)
    await pilot.pause()
    if epochs is not None:
        app.query_one("#field-epochs", Input).value = epochs
        await pilot.pause()
    await pilot.press("f10")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, TuneScreen)
    await set_input(pilot, screen, "#tune-search", search)
    await set_input(pilot, screen, "#tune-trials", trials)
    return screen


def status_updates(screen: TuneScreen) -> list[str]:
    """What the status line is told from now on, each text as it is given (a record, the update still made)."""
    status, said = screen.query_one("#tune-status", Static), []
    update = status.update

    def recorded(content="", **options):
        said.append(str(content))
        return update(content, **options)

    status.update = recorded
    return said


async def a_trial_training(pilot, app) -> TuneScreen:
    """Tune opened from the app and a two-trial study of long trials started (ctrl+s): trial 0 is training."""
    screen = await open_tune_from_the_app(pilot, app, "lr=5e-3:2e-2:log", "2", epochs="1000")
    await pilot.press("ctrl+s")
    while not any(t.get("state") == "running" for t in screen.trials.values()):
        await pilot.pause()
    return screen


async def test_ctrl_q_during_a_sweep_asks_first(make_app):
    """ctrl+q while a study runs asks like training does: n keeps it running; y stops it cleanly, then quits."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await a_trial_training(pilot, app)
        study = screen.study_name()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.is_running
        assert "Quit while tuning?" in str(app.screen.query_one(".dialog-title", Static).render())
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and screen.running and app.is_running
        await pilot.press("ctrl+q")
        await pilot.pause()
        said = status_updates(screen)
        await pilot.press("y")
        await pilot.pause()
        # it looked idle for seconds before the app went (walk23 F4): the line says the app quits, Start is gone
        # (said, not read after a pause: on a fast machine the trial had stopped by then, the line said more)
        assert "stopping: the running trials save and end, then the app quits" in said, said
        assert "ctrl+s" not in {b.binding.key for b in app.active_bindings.values() if b.enabled}  # (footer)
        try:
            await screen.tune_worker.wait()
            await pilot.pause()
        except WorkerCancelled:  # the app quit on the worker's last message before the worker had returned
            pass
    assert not app.is_running
    assert screen.child.returncode == 130  # stopped as Ctrl+C stops it, not killed with the app
    assert [p.parent.name for p in app.checkpoints_dir.glob("*/last.pt")] == [f"{study}-trial000"]


async def test_the_focused_field_is_marked_like_the_train_forms(tmp_path, synthetic_root):
    """Tab through the inputs: only the focused field's label is bold in the accent colour (as on the Train form)."""
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        labels = {str(label.render()): label for label in screen.query_one(TuneForm).query(Label)}
        assert set(labels) == {"search", "trials", "pruner", "study", "storage"}
        for name in labels:
            screen.query_one(f"#tune-{name}").focus()
            await pilot.pause()
            marked = [shown for shown, label in labels.items() if label.rich_style.bold]
            assert marked == [name]
            assert labels[name].rich_style.color != labels[next(n for n in labels if n != name)].rich_style.color


async def test_the_storage_placeholder_fits_at_80_columns(tmp_path, synthetic_root):
    """The empty storage field reads whole ('default'), not 'sqlite:////'; the tooltip names the default URL."""
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        storage = screen.query_one("#tune-storage", Input)
        shown = "".join(segment.text for segment in storage.render_line(0)).strip()
        assert shown == storage.placeholder and len(shown) < storage.size.width
        assert screen.default_storage in str(storage.tooltip)


async def test_a_long_study_name_and_the_storage_read_whole_at_80_columns(tmp_path, synthetic_root):
    """A default name with a digest on Fashion-MNIST is 27 characters: the 16-column field showed 'mnist-seed-mlp-c'."""
    name = "fashion-mnist-seed-mlp-3fa2"
    screen = TuneScreen(BASE, checkpoints_dir=tmp_path / "runs", data_dir=synthetic_root, preset="seed-mlp",
                        study=name)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        for field, text in (("#tune-study", name), ("#tune-storage", screen.query_one("#tune-storage").placeholder)):
            widget = screen.query_one(field, Input)
            shown = "".join(segment.text for segment in widget.render_line(0)).strip()
            assert shown == text, (field, shown)


async def test_waiting_for_a_study_reads_plainly(tmp_path, synthetic_root):
    """Attached before the study exists (as just after Start): 'waiting for study ui…', not Optuna's KeyError."""
    screen = make_screen(tmp_path, synthetic_root, storage=f"sqlite:///{tmp_path / 'empty.db'}", poll_seconds=0.2)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.click("#tune-attach")
        status = screen.query_one("#tune-status", Static)
        while "waiting" not in str(status.render()):
            await pilot.pause()  # the poller's first look at the storage
        assert str(status.render()) == "waiting for study ui…"


async def test_waiting_for_a_misspelt_study_names_the_studies_the_storage_holds(tmp_path, synthetic_root):
    """A study name typed wrong waited for ever with no hint that the storage held others (walk26 F11)."""
    storage = one_trial_study(tmp_path, "sweep", 1e-3, 0.91)
    optuna.create_study(study_name="other", storage=storage)
    screen = make_screen(tmp_path, synthetic_root, storage=storage, poll_seconds=0.2)  # study "ui"
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.click("#tune-attach")
        status = screen.query_one("#tune-status", Static)
        while "waiting" not in str(status.render()):
            await pilot.pause()
        shown = str(status.render())
    assert shown == "waiting for study ui… (this storage holds other, sweep)", shown


async def test_the_epoch_chart_counts_running_trials_as_the_status_does(tmp_path, synthetic_root):
    """A trial that has not finished its first epoch is running: the chart's title says so, as the status line does."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions={"lr": lr}, value=0.9,
                                              intermediate_values={1: 0.9}))
    study.ask({"lr": lr})  # trial 1: running, no epoch reported yet
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        assert "1 running" in str(screen.query_one("#tune-status", Static).render())
        await pilot.press("f8")
        await pilot.pause()
        assert "Val acc % by epoch (1 running)" in screen.query_one(EpochChart).render().plain


@pytest.mark.parametrize("finished", [False, True], ids=["none-finished", "finished"])
async def test_both_history_titles_show_at_60x20(finished, tmp_path, synthetic_root):
    """At 60x20 a chart's title wider than the chart was dropped: "History: no finished trial yet" and "Val acc % by
    epoch (1 running)" did not show (walk41 F12)."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    if finished:
        study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions={"lr": lr}, value=0.9906,
                                                  intermediate_values={1: 0.98, 2: 0.9906}))
    study.ask({"lr": lr})
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=(60, 20)) as pilot:
        await attach(pilot, screen)
        await pilot.press("f8")
        await pilot.pause()
        history = screen.query_one(HistoryChart).render().plain
        epochs = screen.query_one(EpochChart).render().plain
    assert ("History: best 99.06%" if finished else "History: none yet") in history, history
    assert "Val acc % (1 running)" in epochs, epochs


async def test_the_status_line_fits_one_line_at_80_columns(tmp_path, synthetic_root):
    """Running, complete, pruned and failed trials: the counts and the best trial fit the status's first line."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="walkstudy", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for value, state in ((0.95, "COMPLETE"), (0.97, "COMPLETE"), (0.5, "PRUNED"), (None, "FAIL")):
        study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions={"lr": lr}, value=value,
                                                  intermediate_values={1: value or 0.1},
                                                  state=getattr(optuna.trial.TrialState, state)))
    study.ask({"lr": lr})
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    screen.initial_study = "walkstudy"
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        status = screen.query_one("#tune-status", Static)
        lines = ["".join(s.text for s in status.render_line(y)).strip() for y in range(status.size.height)]
        assert lines[0].startswith("walkstudy") and lines[0].endswith("best 97.00% (#1)")
        # not the counts' remainder (a trial runs, in another process: watched)
        assert lines[1].startswith("watching: another process trains it; ctrl+s adds a worker, 20 more trials")
        assert "1 running" in lines[0] and "1 pruned" in lines[0] and "1 failed" in lines[0]
        # the words and marks of the longer form (it said "2 done", with commas: walk41 F14)
        assert lines[0] == "walkstudy: 1 running · 2 complete · 1 pruned · 1 failed · best 97.00% (#1)", lines[0]


def test_a_long_status_counts_a_waiting_trial():
    """The total goes first when the line is long, as the sum of the counts: a waiting trial (enqueued) was not
    counted, so it went missing from the line."""
    from mnist_tui.tui.widgets.tune_records import progress_text

    states = ("complete", "complete", "pruned", "running", "waiting")
    trials = {n: {"number": n, "state": state, "value": 0.95 if state == "complete" else None}
              for n, state in enumerate(states)}
    text = progress_text("walkstudy-with-a-long-name", trials, 78)
    assert text.endswith(": 1 running · 1 waiting · 2 complete · 1 pruned · best 95.00% (#0)"), text
    assert len(text) <= 78


async def test_use_best_before_any_trial_has_finished_says_so(tmp_path, synthetic_root):
    """ctrl+b with no complete trial tells you why nothing happened (it did nothing)."""
    screen = make_screen(tmp_path, synthetic_root)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert app.best_configs == []
        assert [str(n.message) for n in app._notifications] == [
            "No finished trial yet: Use best needs a complete trial."]


async def test_a_trial_stopped_by_the_user_reads_stopped_not_failed(tmp_path, synthetic_root):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    # as `tune` leaves a trial interrupted by Ctrl+C or Stop (last.pt saved): FAIL to Optuna, so nothing learns from it
    study.add_trial(optuna.trial.create_trial(params={"lr": 1e-3}, distributions={"lr": lr},
                                              state=optuna.trial.TrialState.FAIL,
                                              user_attrs={"stopped": "interrupted", "run_dir": str(tmp_path / "r")}))
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        state = screen.query_one("#tune-table", DataTable).get_row_at(0)[1]
        assert str(state) == "stopped"
        assert "1 trial · 1 stopped" in str(screen.query_one("#tune-status", Static).render())


async def test_tune_keeps_what_was_typed_when_it_opens_again(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_tune_from_the_app(pilot, app, "lr=1e-3:1e-2:log", "3")
        await set_input(pilot, screen, "#tune-study", "my-sweep")
        await pilot.press("ctrl+b")  # "Use best" with no trial finished: the view stays, says so
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, TuneScreen)
        await pilot.press("f10")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, TuneScreen) and again is not screen
        assert again.query_one("#tune-search", Input).value == "lr=1e-3:1e-2:log"
        assert again.query_one("#tune-trials", Input).value == "3"
        assert again.query_one("#tune-study", Input).value == "my-sweep"
        await set_input(pilot, again, "#tune-study", "")  # emptied: the default study name comes back next time
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f10")
        await pilot.pause()
        assert app.screen.query_one("#tune-study", Input).value == ""
        assert app.screen.study_name().startswith("mnist-seed-mlp-")  # the form's tiny config is not the preset


async def test_the_proposed_study_follows_the_search_shown_as_the_cli_names_it(make_app):
    """The name was worked out for the model's default search, whatever the search field held: after Use best
    (or with a search remembered from the last visit), Start met the study of another config and was refused
    ("study 'mnist-seed-mlp' tunes another config (--hidden 128,64 there, 512 here ...)")."""
    from mnist_tui.core.tune_space import default_study
    from mnist_tui.tui.widgets.hparam_form import HParamForm

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#field-hidden", Input).value = "512"  # as Use best leaves it
        screen = await open_tune_from_the_app(pilot, app, "lr=1e-4:1e-2:log dropout=0:0.3", "3")
        base = app.query_one(HParamForm).read()[0]
        wanted = default_study(base, "seed-mlp", ("lr", "dropout"))  # `mnist-tui tune` with that search
        assert screen.query_one("#tune-study", Input).value == wanted == screen.study_name()
        await set_input(pilot, screen, "#tune-search", "lr=1e-4:1e-2:log")
        assert screen.study_name() == default_study(base, "seed-mlp", ("lr",)) != wanted
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f10")  # the search remembered: its name too
        await pilot.pause()
        assert app.screen.study_name() == default_study(base, "seed-mlp", ("lr",))
        await set_input(pilot, app.screen, "#tune-study", "mine")  # a name typed stays, whatever the search
        await set_input(pilot, app.screen, "#tune-search", "lr=1e-3:1e-2:log")
        assert app.screen.study_name() == "mine"


async def test_a_study_name_typed_for_one_config_is_not_proposed_for_another(make_app):
    # the typed name stayed after the Train form changed: Start then met that study's other fixed values
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_tune_from_the_app(pilot, app, "lr=1e-3:1e-2:log", "3")
        await set_input(pilot, screen, "#tune-study", "my-sweep")
        await pilot.press("escape")
        await pilot.pause()
        app.query_one("#field-epochs", Input).value = "2"  # another config: another study
        await pilot.pause()
        await pilot.press("f10")
        await pilot.pause()
        again = app.screen
        assert again.query_one("#tune-study", Input).value == again.study_name() != "my-sweep"
        assert again.query_one("#tune-search", Input).value == "lr=1e-3:1e-2:log"  # the same search space
        assert again.query_one("#tune-trials", Input).value == "3"


async def test_a_run_of_another_model_put_in_the_form_gets_a_study_named_for_its_model(make_app):
    # the picker's earlier preset named it: a fastcnn config's study read "mnist-seed-mlp-f7c2"
    from mnist_tui.core.config import PRESETS
    from mnist_tui.tui.widgets.hparam_form import HParamForm

    app = make_app(preset="seed-mlp")
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        app.query_one(HParamForm).set_config(PRESETS["fast"].replace(epochs=2, val_size=100))  # as Runs' f does
        await pilot.pause()
        assert app.query_one(HParamForm).preset == "seed-mlp"  # the picker's, kept
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, TuneScreen) and app.screen.study_name().startswith("mnist-fast-")


async def test_f10_proposes_a_study_of_its_own_for_each_config(make_app):
    """Another config in the same study would mix trials that cannot be compared (and the study refuses it)."""
    app = make_app(preset="fast")
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        app.query_one("#field-val_size", Input).value = "100"  # the synthetic set holds 600 training digits
        await open_tune_from_the_app(pilot, app, "lr=1e-3:1e-2:log", "3")
        first = app.screen.study_name()
        assert first.startswith("mnist-fast-") and len(first) == len("mnist-fast-") + 4  # fast, changed
        for field, value, same in (("lr", "0.01", True), ("epochs", "2", False)):  # lr is searched: moot
            await pilot.press("escape")
            await pilot.pause()
            app.query_one(f"#field-{field}", Input).value = value
            await pilot.pause()
            await pilot.press("f10")
            await pilot.pause()
            name = app.screen.study_name()
            assert name.startswith("mnist-fast-") and (name == first) == same, (field, name, first)
            assert app.screen.query_one("#tune-study", Input).value == name
        # the name `mnist-tui tune` gives the same settings and search
        from mnist_tui.core.tune_space import default_study

        base = app.query_one("HParamForm").read()[0]
        assert name == default_study(base, "fast", ("lr",))  # the search shown (lr), not the default one


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
async def test_the_study_in_the_fields_shows_when_tune_opens(kind, tmp_path, synthetic_root):
    """Opening Tune again (or on a study others fed) shows its trials without pressing Attach."""
    (tmp_path / "runs").mkdir()
    if kind == "sqlite":  # the default storage, as left by an earlier visit
        storage, url = f"sqlite:///{tmp_path / 'runs' / 'tune.db'}", None
    else:  # a journal file on a shared folder, typed into the storage field
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        url = f"journal:{tmp_path / 'shared.log'}"
        storage = JournalStorage(JournalFileBackend(str(tmp_path / "shared.log")))
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": 3e-3}, distributions={"lr": lr}, value=0.95))
    screen = make_screen(tmp_path, synthetic_root, storage=url)
    async with Host(screen).run_test(size=SIZE) as pilot:
        assert await asyncio.to_thread(screen.first_poll_applied.wait, 30)
        await pilot.pause()
        assert screen.query_one("#tune-table", DataTable).row_count == 1
        assert "study ui: 1 trial" in str(screen.query_one("#tune-status", Static).render())
        assert not screen.query_one("#tune-best", Button).disabled


async def test_a_new_study_opens_quietly_and_makes_no_storage_file(tmp_path, synthetic_root):
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        # no "waiting for study…"; and not a blank line either, where a new user looked for what comes next
        said = str(screen.query_one("#tune-status", Static).render())
        assert screen.poll_worker is None and said == "study ui: ctrl+s starts or joins it, Attach watches it"
    assert not (tmp_path / "runs").exists()


async def test_f10_with_an_invalid_form_is_refused_like_f5(make_app):
    """A study of the last valid config (not what the form shows) would surprise: f10 says what is wrong."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        app.query_one("#field-epochs", Input).value = "abc"  # not the lr: every search sets that itself
        await pilot.pause()
        await pilot.press("f10")
        await pilot.pause()
        assert not isinstance(app.screen, TuneScreen)
        from mnist_tui.tui.widgets.progress import ProgressLine
        line = app.query_one(ProgressLine)
        assert "Cannot tune: epochs must be a whole number, got 'abc'" in str(line.render())
        app.query_one("#field-epochs", Input).value = "1"  # fixed: the refusal goes, as f5's does
        await pilot.pause()
        assert "Cannot tune" not in str(line.render()) and str(line.render()).strip().startswith("Ready")


async def test_the_history_of_one_trial_has_no_negative_trial_number(tmp_path, synthetic_root):
    storage = f"sqlite:///{tmp_path / 'one.db'}"
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": 3e-3}, distributions={"lr": lr}, value=0.95,
                                              intermediate_values={1: 0.95}))
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        assert await asyncio.to_thread(screen.first_poll_applied.wait, 30)
        await pilot.pause()
        await pilot.press("f8")
        await pilot.pause()
        drawn = screen.query_one(HistoryChart).render().plain
        assert "History: best 95.00%" in drawn and "-1" not in drawn, drawn


async def test_search_errors_are_shown_whole_each_while_they_fit_else_the_rest_named(tmp_path, synthetic_root):
    """Two errors that fit show one a line; "(and 1 more)" said nothing of what or where (walk23 F5). An unknown
    field lists every field (four lines at 80 columns): it is shown whole, and the other fields in error named."""
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "lr=1:0 dropout=0:2")
        status = screen.query_one("#tune-status", Static)
        lines = status.render().plain.splitlines()
        assert lines[0].startswith("lr range must have LOW < HIGH") and lines[1].startswith("dropout"), lines
        await set_input(pilot, screen, "#tune-search", "nosuch=1:2 lr=abc")
        text = " ".join(line.strip() for line in status.render().plain.splitlines())
        assert text.startswith("'nosuch' is not a config field; fields: dataset,")
        assert "threads (and 1 more: lr)" in text
        assert status.region.height > 2 and len(text) <= status.region.height * status.content_size.width  # not cut
        await set_input(pilot, screen, "#tune-search", "nosuch=1:2 lr=abc dropout=0:2 momentum=x")
        text = " ".join(line.strip() for line in status.render().plain.splitlines())
        assert text.endswith("(and 3 more: lr, dropout, momentum)"), text
        await set_input(pilot, screen, "#tune-search", "lr=abc")
        assert str(status.render()) == "lr must be a number, got 'abc'" and status.region.height == 2


FLOAT, CHOICE, INT = (optuna.distributions.FloatDistribution, optuna.distributions.CategoricalDistribution,
                      optuna.distributions.IntDistribution)


@pytest.mark.parametrize("space, params, shown", [
    ({"lr": FLOAT(2e-3, 3e-2, log=True), "batch_size": CHOICE([128, 256, 512]), "momentum": FLOAT(0.6, 0.95),
      "width": INT(16, 40, step=8)},
     {"lr": 0.00838192, "batch_size": 256, "momentum": 0.8961234, "width": 32}, ["0.008382", "256", "0.8961", "32"]),
    # best's: in one "params" column of name=value it ran past the right edge, weight_decay=… cut mid-word
    ({"lr": FLOAT(1e-3, 1e-2, log=True), "dropout": FLOAT(0, 0.3), "label_smoothing": FLOAT(0, 0.1),
      "weight_decay": FLOAT(1e-5, 1e-3, log=True)},
     {"lr": 0.00412345, "dropout": 0.123456, "label_smoothing": 0.0512345, "weight_decay": 0.000123456},
     ["0.004123", "0.1235", "0.05123", "0.0001235"]),  # as the trial's run trains them
], ids=["fast", "best"])
async def test_the_trials_of_the_default_search_fit_80_columns(space, params, shown, tmp_path, synthetic_root):
    """Four searched values a row, a column each under its name: read whole, no column cut at the screen's edge."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    study = optuna.create_study(study_name="mnist-fast", storage=storage, direction="maximize")
    study.add_trial(optuna.trial.create_trial(params=params, distributions=space, value=0.991,
                                              user_attrs={"run_dir": str(tmp_path / "runs" / "mnist-fast-trial000")}))
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    screen.initial_study = "mnist-fast"
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        table = screen.query_one(DataTable)
        assert table.row_count == 1
        assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing to scroll sideways to
        header, row = ("".join(s.text for s in table.render_line(y)) for y in (0, 1))
        assert header.split() == ["#", "state", "val", "acc", *space]
        assert row.split() == ["0", "complete", "99.10%", *shown]


async def test_naming_another_study_lets_the_last_ones_trials_go(tmp_path, synthetic_root):
    storage = one_trial_study(tmp_path, "first", 3e-3, 0.95)
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    screen.initial_study = "first"
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        table = screen.query_one("#tune-table", DataTable)
        assert table.row_count == 1 and not screen.query_one("#tune-best", Button).disabled
        screen.query_one("#tune-study", Input).focus()
        await pilot.press("end", "2")  # "first2": a study with no trials yet
        await pilot.pause()
        assert table.row_count == 0 and screen.best() is None  # not "first"'s trial under "first2"
        assert screen.query_one("#tune-best", Button).disabled


async def test_leaving_during_a_sweep_asks_first(make_app):
    """escape (and enter on a trial, Use best) stopped the running study without a word; ctrl+l asks too.
    Each trial record rebuilt every key of the footer: the app's loop spent a core on it and a key took a second."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await a_trial_training(pilot, app)
        keys = list(screen.query(FooterKey))
        epochs = len(screen.trials[0].get("curve") or {})
        while len(screen.trials[0].get("curve") or {}) < epochs + 3:  # three more records
            await pilot.pause()
        await pilot.pause()
        assert keys and list(screen.query(FooterKey)) == keys  # the same widgets: not rebuilt
        # ctrl+l started the range test beside the trial without a word: three trainings shared two cores
        # (walk30 F4). The Train view asks the same while a run trains.
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        title = str(app.screen.query_one(".dialog-title", Static).render())
        assert "Find a learning rate while a study trains?" in title, title
        body = app.screen.message
        assert body.startswith("Study ") and "is training. The range test would share the CPU with it" in body, body
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and screen.running
        assert not any(type(s).__name__ == "LrFindScreen" for s in app.screen_stack)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Leave while tuning?" in str(app.screen.query_one(".dialog-title", Static).render())
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and screen.running
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not isinstance(app.screen, (TuneScreen, ConfirmScreen))
        assert await asyncio.to_thread(screen.child.wait, 60) == 130  # stopped as Ctrl+C stops it


async def test_enter_on_the_training_trial_opens_its_run_once_the_study_has_stopped_and_saved_it(make_app):
    """Enter on the running trial, then y: Results looked for its last.pt before the stopping trial had written
    it, and said "Evaluation failed: … no such checkpoint file" (walk30 F2)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await a_trial_training(pilot, app)
        table = screen.query_one("#tune-table", DataTable)
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        said = status_updates(screen)
        await pilot.press("y")
        # (said, not read after a pause: there a fast machine had stopped the trial and opened its run)
        assert await asyncio.to_thread(screen.child.wait, 60) == 130
        while app.screen is screen:
            await pilot.pause()
        await workers_done(app)
        await pilot.pause()
        summary = str(app.query_one("#results-summary", Static).render())
    assert "stopping: the running trials save and end, then trial 0's run opens" in said, said
    assert summary.startswith(Path(screen.trials[0]["run_dir"]).name), summary


async def test_starting_a_study_while_a_run_trains_asks_first(make_app):
    """ctrl+s in Tune during a run started the study beside it, without a word: two trainings on one CPU."""
    from tests.tui.test_app import start_paused

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        await start_paused(pilot, app)  # a run is training (paused counts: it holds its memory and resumes)
        run_name = Path(app.controller.run_dir).name
        await pilot.press("f10")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TuneScreen)
        await set_input(pilot, screen, "#tune-trials", "1")
        screen.query_one("#tune-table", DataTable).focus()
        await pilot.press("ctrl+s")
        await pilot.pause()
        asked = (type(app.screen).__name__, getattr(app.screen, "title_text", None),
                 getattr(app.screen, "message", ""))
        await pilot.press("n")  # (without the question: no key of the Tune view)
        await pilot.pause()
        started = screen.running
        if started:
            screen.action_stop()
            await screen.tune_worker.wait()
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f7")  # the paused run: stop it before any assert, or the app would wait for it
        await pilot.pause()
        await pilot.press("y")
        await app.wait_for_event("stopped")
    assert asked[:2] == ("ConfirmScreen", "Tune while a run trains?")
    assert asked[2].startswith(f"{run_name} is paused.") and not started


async def test_a_storage_no_driver_opens_is_an_error_said_whole_not_a_wait(tmp_path, synthetic_root):
    """It read "waiting for study ui… (cannot open bogus://x: … or jour)": cut at 120 characters, and
    nothing was coming."""
    screen = make_screen(tmp_path, synthetic_root)
    app = Host(screen)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await set_input(pilot, screen, "#tune-storage", "bogus://x")
        await set_input(pilot, screen, "#tune-trials", "1")
        screen.query_one("#tune-table", DataTable).focus()
        await pilot.press("ctrl+s")
        await screen.tune_worker.wait()
        # it gives up: retrying a URL no driver opens changes nothing (it polled on for ever)
        await asyncio.wait_for(screen.poll_worker.wait(), 30)
        for _ in range(20):
            await pilot.pause()
        status = screen.query_one("#tune-status", Static)
        text = str(status.render())
        assert status.has_class("error") and "waiting" not in text, text
        assert "no database driver for 'bogus'" in text and text.rstrip().endswith("journal:PATH"), text


async def test_a_refused_start_says_the_whole_message_in_the_views_words(tmp_path, synthetic_root):
    """Only the CLI's last line was shown ("The download said: …", not that MNIST was missing), and a refusal
    spoke of --study, a flag, where the view has a study field."""
    screen = TuneScreen(BASE, checkpoints_dir=tmp_path / "runs", data_dir=tmp_path / "nowhere", preset="seed-mlp",
                        study="ui")
    async with Host(screen).run_test(size=(80, 24)) as pilot:
        await set_input(pilot, screen, "#tune-trials", "1")
        screen.query_one("#tune-table", DataTable).focus()
        await pilot.press("ctrl+s")
        await screen.tune_worker.wait()
        for _ in range(10):
            await pilot.pause()
        said = str(screen.query_one("#tune-status", Static).render())
    assert said.startswith("tune exited with code 2: MNIST is not on disk"), said
    assert f"Looked in: {tmp_path / 'nowhere'}" in said


def test_a_stopped_study_is_counted_as_it_read_while_it_ran():
    """After ctrl+t it read "3 trials, 0 pruned · best 99.18% (#1); stopped", leaving out its stopped trial, and a
    finished study read otherwise than when attached to later (walk30 F11)."""
    from mnist_tui.tui.widgets.tune_records import outcome_text

    trials = {0: {"number": 0, "state": "complete", "value": 0.98}, 1: {"number": 1, "state": "complete",
              "value": 0.9918}, 2: {"number": 2, "state": "stopped", "value": 0.5}}
    assert outcome_text("ui", trials, 130, str) == (  # "1 stopped; stopped" said it twice (walk32 F3)
        "study ui: 3 trials · 2 complete · 1 stopped · best 99.18% (#1)", False)
    del trials[2]  # stopped between trials: none reads stopped, the study does
    assert outcome_text("ui", trials, 130, str) == (
        "study ui: 2 trials · 2 complete · best 99.18% (#1); stopped", False)
    assert outcome_text("ui", {}, 0, str) == ("study ui: 0 trials", False)


def test_a_tune_refusal_names_the_views_fields_not_flags():
    from mnist_tui.tui.widgets.tune_records import outcome_text

    text, failed = outcome_text("ui", {}, 2, lambda: "study 'ui' tunes another config (--epochs 2 there, 1 "
                                "here): give the same settings, or another --study")
    assert failed and text.endswith("or another study") and "--epochs 2 there" in text


async def test_attach_to_a_storage_in_a_missing_folder_says_so(tmp_path, synthetic_root):
    """Attach to sqlite:///no/such/folder/tune.db said "waiting for study…" for ever (Start refuses it)."""
    screen = make_screen(tmp_path, synthetic_root)
    app = Host(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        url = f"sqlite:///{tmp_path / 'nowhere' / 'tune.db'}"
        await set_input(pilot, screen, "#tune-storage", url)
        screen.query_one("#tune-table", DataTable).focus()
        screen.action_attach()
        await asyncio.wait_for(screen.poll_worker.wait(), 30)  # it gives up: nothing will appear there
        for _ in range(20):
            await pilot.pause()
        status = screen.query_one("#tune-status", Static)
        text = " ".join(str(status.render()).split())
        assert status.has_class("error") and "waiting" not in text, text
        assert text.startswith("cannot watch study") and f"its folder {tmp_path / 'nowhere'} does not exist" in text
        assert not (tmp_path / "nowhere").exists()


async def test_trials_below_the_charts_floor_are_marked_and_counted(tmp_path, synthetic_root):
    # pruned trials at 86-90% sat on the bottom edge of an axis ending near 92%, drawn as if they scored that
    storage = f"sqlite:///{tmp_path / 'low.db'}"
    study = optuna.create_study(study_name="ui", storage=storage, direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for value in (0.95, 0.97):
        study.add_trial(optuna.trial.create_trial(params={"lr": 3e-3}, distributions={"lr": lr}, value=value,
                                                  intermediate_values={1: value}))
    for value in (0.8766, 0.8972):
        study.add_trial(optuna.trial.create_trial(params={"lr": 5e-2}, distributions={"lr": lr},
                                                  state=optuna.trial.TrialState.PRUNED, intermediate_values={1: value}))
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=(120, 30)) as pilot:
        assert await asyncio.to_thread(screen.first_poll_applied.wait, 30)
        await pilot.pause()
        await pilot.press("f8")
        await pilot.pause()
        history = screen.query_one(HistoryChart).render().plain
        assert "v 2 below 92%" in history and history.count("v") >= 3, history  # the label and two points
        assert "2 below 92%" in screen.query_one(EpochChart).render().plain


async def test_one_epoch_trials_are_charted_over_epoch_1_alone(tmp_path, synthetic_root):
    """A study of one-epoch trials had its epoch axis run 0, 1, 2: half the plot an axis with nothing to show
    (walk27 F6). The one point keeps room beside it; the ticks name only epochs there are."""
    storage = one_trial_study(tmp_path, "ui", 1e-3, 0.91)
    study = optuna.load_study(study_name="ui", storage=storage)
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": 2e-3}, distributions={"lr": lr}, value=0.93,
                                              intermediate_values={1: 0.93}))
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        await pilot.press("f8")
        await pilot.pause()
        lines = screen.query_one(EpochChart).render().plain.splitlines()
    ticks = lines[next(i for i, line in enumerate(lines) if "└" in line) + 1]
    assert ticks.split() == ["1"], lines


def test_a_running_trials_hidden_sizes_read_as_a_finished_ones():
    # trial_started gave the MLP's layers as a list: "[128, 64]" while running, "128-64" once complete
    from mnist_tui.tui.widgets.tune_records import params_text, row_from_event

    started = row_from_event({"event": "trial_started", "number": 0, "params": {"hidden": [128, 64], "lr": 0.001},
                              "run_dir": "r"})
    assert params_text(started["params"]) == params_text({"hidden": "128-64", "lr": 0.001}) == "hidden=128-64 lr=0.001"


async def test_use_best_while_a_run_trains_says_when_f5_can_train_it(make_app):
    # the toast said "f5 trains it" while the form was locked by the run in progress
    from tests.tui.test_app import start_paused

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.pause()
        await start_paused(pilot, app)
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, TuneScreen)
        app.screen.post_message(TuneScreen.UseBest(BASE, None, 0.95))
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        await pilot.press("f7")  # the paused run ends before anything is asserted (a failure would leave it waiting)
        await pilot.pause()
        await pilot.press("y")
        await app.wait_for_event("stopped")
    assert "The form holds the best trial's config (val 95.00%): f5 trains it once this run ends." in said, said


@pytest.mark.parametrize("key, title", [("escape", "Leave while tuning?"), ("ctrl+q", "Quit while tuning?")])
async def test_a_question_about_stopping_the_study_goes_when_the_study_ends_under_it(make_app, key, title):
    """"Leave (Quit) while tuning?" stayed up after the study had ended, still saying it would stop it (walk23 F6):
    with nothing left to stop, what the key asked for is done."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await a_trial_training(pilot, app)
        study = screen.study_name()
        await pilot.press(key)
        await pilot.pause()
        assert title in str(app.screen.query_one(".dialog-title", Static).render())
        os.kill(screen.child.pid, signal.SIGINT)  # the study ends by itself (from another terminal, say)
        try:
            await screen.tune_worker.wait()
            for _ in range(5):
                await pilot.pause()
        except WorkerCancelled:  # the app quit on the worker's last message
            pass
        if key == "escape":
            assert app.is_running and not isinstance(app.screen, (TuneScreen, ConfirmScreen))
            said = [str(n.message) for n in app._notifications]  # and says so (it went without a word: walk41 F6)
            assert any(m.startswith(f"The study ended while you were asked, so Tune closed: study {study}")
                       for m in said), said
        else:
            assert app.return_code == 0  # it quit


async def test_tab_into_a_field_does_not_select_it_all_for_one_key_to_wipe(tmp_path, synthetic_root):
    """Tab into search selected its whole text, so one backspace wiped the search (walk22 F10); the Train form's
    fields keep their text on focus too."""
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        search = screen.query_one("#tune-search", Input)
        before = search.value
        screen.query_one("#tune-table", DataTable).focus()
        await pilot.pause()
        while screen.focused is not search:
            await pilot.press("tab")
        await pilot.press("backspace")  # a character at most (where the cursor was), not the whole search
        assert before and search.value in (before, before[:-1]), (before, search.value)


async def test_attaching_with_an_invalid_search_shows_the_study_and_why_start_is_off(tmp_path, synthetic_root):
    """After an invalid search, attaching drew the study's trials but the status kept only the search's error,
    as if the study were not there (walk26 F11): now the study's line, and the error under it."""
    storage = one_trial_study(tmp_path, "ui", 3e-3, 0.95)
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "xr=1:2")
        before = str(screen.query_one("#tune-status", Static).render())
        await attach(pilot, screen)
        after = str(screen.query_one("#tune-status", Static).render())
        rows = screen.query_one("#tune-table", DataTable).row_count
        start_off = screen.query_one("#tune-start", Button).disabled
    assert "'xr' is not a config field" in before
    assert rows == 1 and after.startswith("study ui: 1 trial") and "best 95.00% (#0)" in after, after
    assert "'xr' is not a config field" in after and start_off, after


async def test_editing_the_search_keeps_the_studys_counts_and_says_what_start_adds(tmp_path, synthetic_root):
    """Edit the search of a study with trials: the status said "ctrl+s starts it, Attach watches it" over its
    listed trials, as if it were new, and nowhere that Start adds trials to it (walk28 F1)."""
    storage = one_trial_study(tmp_path, "ui", 3e-3, 0.95)
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        attached = str(screen.query_one("#tune-status", Static).render())
        await set_input(pilot, screen, "#tune-trials", "2")
        await set_input(pilot, screen, "#tune-search", "lr=1e-3:1e-2:log")
        edited = str(screen.query_one("#tune-status", Static).render())
        await set_input(pilot, screen, "#tune-trials", "1")
        one = str(screen.query_one("#tune-status", Static).render())
    assert attached.splitlines() == ["study ui: 1 trial · 1 complete · best 95.00% (#0)",  # (the default search)
                                     "ctrl+s runs 20 more trials in it, searching lr, batch_size, dropout, hidden; "
                                     "it searched lr"]
    assert edited.splitlines() == ["study ui: 1 trial · 1 complete · best 95.00% (#0)",
                                   "ctrl+s runs 2 more trials in it"]
    assert one.endswith("\nctrl+s runs 1 more trial in it"), one


def test_a_clipped_error_ends_with_its_ellipsis_within_the_width():
    """The "…" that says lines were left out went after the last kept line: one column over when that line was
    the status's whole width, so the status wrapped it onto a line of its own."""
    from mnist_tui.tui.widgets.tune_form import clip_lines

    text = "abcd efgh " * 6  # wraps at 9 columns into lines of exactly 9: "abcd efgh"
    clipped = clip_lines(text, 9, 2).splitlines()
    short = clip_lines("ab cd ef", 5, 1)  # "ab cd" is 5 columns: the "…" takes the last
    assert clipped == ["abcd efgh", "abcd efg…"] and short == "ab c…"
    assert clip_lines("ab cd", 9, 1) == "ab cd"  # nothing left out: no "…"


async def test_tune_opens_in_its_search_with_no_study_yet_and_on_the_trials_with_one(tmp_path, synthetic_root):
    """With no study, the keys were on the empty trials table: nothing showed them, enter did nothing, and the search
    was a tab away (walk29 F8); so too in a storage that held other studies only (walk37 F1). A study that is there
    opens on its trials, to read them."""
    focused = {}
    for case, study in (("no storage", None), ("another study", "other"), ("this study", "ui")):
        kwargs = {"storage": one_trial_study(tmp_path, study, 3e-3, 0.95)} if study else {}
        screen = make_screen(tmp_path, synthetic_root, **kwargs)
        async with Host(screen).run_test(size=SIZE) as pilot:
            await asyncio.to_thread(screen.first_look.wait, 60)
            await pilot.pause()
            focused[case] = screen.focused.id if screen.focused else None
            if case == "no storage":
                assert screen.query_one("#tune-search", Input).cursor_position == 0  # its start shows at 80 columns
    assert focused == {"no storage": "tune-search", "another study": "tune-search", "this study": "tune-table"}


async def test_the_stop_key_says_where_an_attached_study_stops(tmp_path, synthetic_root):
    """ctrl+t while watching a study another process runs did nothing and said nothing (walk30 F9)."""
    storage = one_trial_study(tmp_path, "ui", 3e-3, 0.95)
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        screen.query_one("#tune-table", DataTable).focus()
        await pilot.press("ctrl+t")
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        running = screen.running
    assert not running and any("stops where it runs" in text for text in said), said


async def test_a_base_that_trains_on_every_digit_says_its_trials_hold_some_out_before_start(tmp_path, synthetic_root):
    """The best preset trains on all 60,000 digits; its trials hold 5,000 out, which the view said only once a
    study had started (walk32 F1)."""
    screen = TuneScreen(BASE.replace(val_size=0), checkpoints_dir=tmp_path / "runs", data_dir=synthetic_root,
                        preset="seed-mlp", study="ui")
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = str(screen.query_one("#tune-status", Static).render())
    assert "ctrl+s starts or joins it" in status and "trials hold out 5,000 training digits" in status, status


async def test_a_running_trial_shows_how_far_it_has_trained(tmp_path, synthetic_root):
    """A 1-epoch trial read "0  running  -" until it ended, for over 2 minutes on a loaded machine (walk32 F2)."""
    from mnist_tui.tui.widgets.tune_records import TrialRecords, row_from_event

    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        started = {"event": "trial_started", "number": 0, "params": {"lr": 0.01}, "run_dir": str(tmp_path / "r")}
        progress = {"event": "trial_progress", "number": 0, "done": 0.4}
        screen.post_message(TrialRecords([row_from_event(started), row_from_event(progress)], "tune"))
        await pilot.pause()
        row = [str(cell) for cell in screen.query_one("#tune-table", DataTable).get_row_at(0)]
    assert row[:3] == ["0", "run 40%", "-"], row


async def test_another_study_attached_to_after_one_ran_here_shows_its_counts(tmp_path, synthetic_root):
    """Once a study had run in the view, attaching to another left the status at "ctrl+s starts it" while its
    trials filled the table: the counts were shown only in a view that had never started a study (walk33 F1)."""
    storage = one_trial_study(tmp_path, "other", 3e-3, 0.95)
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "lr=1e-3:3e-2:log")
        await set_input(pilot, screen, "#tune-trials", "1")
        await pilot.click("#tune-start")
        await screen.tune_worker.wait()
        while screen.running:
            await pilot.pause()
        ours = str(screen.query_one("#tune-status", Static).render())
        await set_input(pilot, screen, "#tune-study", "other")
        await set_input(pilot, screen, "#tune-storage", storage)
        await attach(pilot, screen)
        while [t.get("value") for t in screen.trials.values()] != [0.95]:  # the other study's trial, read
            await pilot.pause()
        await pilot.pause()
        other = str(screen.query_one("#tune-status", Static).render())
    assert "study ui: 1 trial · 1 complete" in ours, ours
    assert other.startswith("study other: 1 trial · 1 complete · best 95.00% (#0)"), other


async def test_a_study_of_another_config_turns_start_off_and_says_why(tmp_path, synthetic_root):
    """Attached to a study the CLI started with 2 epochs, the form holding 1: the view invited "ctrl+s runs 20
    more trials in it", and Start then failed with `tune`'s refusal (walk33 F2)."""
    storage = one_trial_study(tmp_path, "ui", 3e-3, 0.95)
    optuna.load_study(study_name="ui", storage=storage).set_user_attr("base_config",
                                                                       BASE.replace(epochs=2).to_dict())
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        status = str(screen.query_one("#tune-status", Static).render())
        disabled = screen.query_one("#tune-start", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause()
        started = screen.child
    lines = status.splitlines()
    assert lines[0] == "study ui: 1 trial · 1 complete · best 95.00% (#0)" and "ctrl+s runs" not in status
    assert " ".join(lines[1:]).startswith("study ui tunes another config (--epochs 2 there, 1 here)"), status
    assert disabled and started is None


async def test_a_base_holding_no_digits_out_tunes_with_the_default_split_and_joins_its_study(tmp_path, synthetic_root):
    """Val size 0 in the form (best's, or set on another preset): the view ran `tune --val-size 0`, which tune
    refuses; its trials hold 5,000 out, as the view says, and a study started so is not another config."""
    storage = one_trial_study(tmp_path, "ui", 3e-3, 0.95)
    optuna.load_study(study_name="ui", storage=storage).set_user_attr("base_config",
                                                                       BASE.replace(val_size=5000).to_dict())
    screen = TuneScreen(BASE.replace(val_size=0), checkpoints_dir=tmp_path / "runs", data_dir=synthetic_root,
                        preset="seed-mlp", study="ui", storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        status = str(screen.query_one("#tune-status", Static).render())
        args = screen.args()
    assert status.splitlines()[1].startswith("ctrl+s runs 20 more trials in it"), status
    assert "--val-size" not in args  # the preset's own 5,000 (best's preset sets 0: there it says 5000)


async def test_attached_to_a_study_that_searched_other_fields_the_view_says_so_before_start(tmp_path,
                                                                                          synthetic_root):
    """Attached to a study that searched lr, with batch_size in the search field, the view offered "ctrl+s runs 20
    more trials in it"; that those would search another space than the study's was said only after ctrl+s
    (walk37 F6). Now under the counts, before Start; with the study's own search in the field, as before."""
    storage = one_trial_study(tmp_path, "ui", 3e-3, 0.95)  # trial 0 searched lr only
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await set_input(pilot, screen, "#tune-search", "batch_size=8,16")
        await attach(pilot, screen)
        other = str(screen.query_one("#tune-status", Static).render())
        await set_input(pilot, screen, "#tune-search", "lr=1e-3:3e-2:log")
        same = str(screen.query_one("#tune-status", Static).render())
    assert other.splitlines()[0].startswith("study ui: 1 trial"), other
    assert " ".join(other.splitlines()[1:]) == ("ctrl+s runs 20 more trials in it, searching batch_size; "
                                                "it searched lr"), other
    assert same.endswith("\nctrl+s runs 20 more trials in it"), same


async def test_a_field_a_trial_did_not_search_shows_the_value_it_trained_with(tmp_path, synthetic_root):
    """Joined with a wider search, the earlier trials read "-" for batch_size, though they trained with the study's
    64 (walk37 F6): the study's value, dim."""
    storage = one_trial_study(tmp_path, "ui", 3e-3, 0.95)  # trial 0 searched lr only
    study = optuna.load_study(study_name="ui", storage=storage)
    study.set_user_attr("base_config", BASE.to_dict())
    distributions = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
                     "batch_size": optuna.distributions.CategoricalDistribution([32, 128])}
    study.add_trial(optuna.trial.create_trial(params={"lr": 1e-2, "batch_size": 128}, distributions=distributions,
                                              value=0.9))
    screen = make_screen(tmp_path, synthetic_root, storage=storage)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await attach(pilot, screen)
        table = screen.query_one("#tune-table", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        columns = [str(column.label) for column in table.ordered_columns]
        first_batch = table.get_row_at(0)[columns.index("batch_size")]
    assert columns[3:5] == ["lr", "batch_size"], columns
    assert rows[0][4] == "64" and rows[1][4] == "128", rows
    assert first_batch.style == "dim"


async def test_up_and_down_go_from_field_to_field_in_tunes_form_too(make_app):
    """Only tab moved between Tune's fields; up and down do on the Train form (walk41 F4)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await workers_done(app)
        await pilot.press("f10")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#tune-search", Input).focus()
        seen = []
        for key in ("down", "down", "down", "down", "down", "up"):
            await pilot.press(key)
            seen.append(app.focused.id)
        opened = screen.query_one("#tune-pruner", Select).expanded
    assert seen == ["tune-trials", "tune-pruner", "tune-study", "tune-storage", "tune-storage", "tune-study"], seen
    assert not opened  # down went past the pruner's picker, not into its list


async def test_naming_another_study_says_so_at_the_first_key(tmp_path, synthetic_root):
    """The first key typed in the study field showed the last study's counts (and its refusal) under the new name,
    over an empty table; the second key said it right (walk41 F2)."""
    import optuna

    (tmp_path / "runs").mkdir()
    study = optuna.create_study(study_name="ui", storage=f"sqlite:///{tmp_path / 'runs' / 'tune.db'}",
                                direction="maximize")
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    study.add_trial(optuna.trial.create_trial(params={"lr": 3e-3}, distributions={"lr": lr}, value=0.95))
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        assert await asyncio.to_thread(screen.first_poll_applied.wait, 30)
        await pilot.pause()
        field = screen.query_one("#tune-study", Input)
        field.focus()
        field.cursor_position = len(field.value)
        await pilot.press("x")
        await pilot.pause()
        said = str(screen.query_one("#tune-status", Static).render())
        rows = screen.query_one("#tune-table", DataTable).row_count
    assert (said, rows) == ("study uix: ctrl+s starts or joins it, Attach watches it", 0), said


async def test_a_study_another_process_runs_is_said_to_be_watched(tmp_path, synthetic_root):
    """Attached to a study another process trains, the line invited "ctrl+s runs 20 more trials in it", as if none
    ran: a second worker beside the first on two cores (walk41 F9)."""
    import optuna

    (tmp_path / "runs").mkdir()
    study = optuna.create_study(study_name="ui", storage=f"sqlite:///{tmp_path / 'runs' / 'tune.db'}",
                                direction="maximize")
    study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)})  # a trial still running
    screen = make_screen(tmp_path, synthetic_root)
    async with Host(screen).run_test(size=SIZE) as pilot:
        assert await asyncio.to_thread(screen.first_poll_applied.wait, 30)
        await pilot.pause()
        said = str(screen.query_one("#tune-status", Static).render()).splitlines()
    assert said[-1].startswith("watching: another process trains it; ctrl+s adds a worker, "), said
