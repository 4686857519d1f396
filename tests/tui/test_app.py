"""Pilot tests: the real app at 80x24 on the synthetic dataset, waiting on workers and events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from textual import events
from textual.command import CommandPalette
from textual.widgets import Button, DataTable, Input, Select, Static

from mnist_tui.tui.app import MnistApp
from mnist_tui.tui.widgets.progress import ProgressLine
from mnist_tui.tui.panes.misclassified import MisclassifiedPane
from mnist_tui.tui.panes.results import ResultsPane
from mnist_tui.tui.panes.runs import RunsPane
from mnist_tui.tui.widgets.charts import TrainingChart
from mnist_tui.tui.widgets.confusion import ConfusionTable
from mnist_tui.tui.widgets.dialogs import ConfirmScreen, MessageScreen
from mnist_tui.tui.widgets.hparam_form import HParamForm as HParamFormType
from mnist_tui.tui.widgets.digit_grid import DigitGrid
from tests.tui.workers import workers_done

SIZE = (80, 24)


async def set_field(pilot, app: MnistApp, name: str, text: str) -> None:
    """Type into a form field the way a user would: focus, clear, type."""
    field = app.query_one(f"#field-{name}", Input)
    field.focus()
    await pilot.press("end", "ctrl+u", *text)
    await pilot.pause()


async def ready(pilot, app: MnistApp) -> None:
    await workers_done(app)
    await pilot.pause()


async def palette(pilot, command: str) -> None:
    """Open the command palette, paste ``command`` (as a terminal sends a paste: one event, one search; typed,
    each key searched and a test spent seconds on it) and run the first match."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    pilot.app._driver.send_message(events.Paste(command))
    await pilot.pause()
    await workers_done(pilot.app, [w for w in pilot.app.workers if isinstance(w.node, CommandPalette)])
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


async def run_to_completion(pilot, app: MnistApp) -> None:
    """Wait for the training worker, then for the evaluation it starts."""
    await workers_done(app)
    await pilot.pause()
    await workers_done(app)
    await pilot.pause()


async def a_finished_run(pilot, app: MnistApp) -> None:
    """The ready app's form run to its end with f5 (its evaluation included)."""
    await ready(pilot, app)
    await pilot.press("f5")
    await run_to_completion(pilot, app)


async def start_paused(pilot, app: MnistApp) -> None:
    """Start (f5) and pause (f6) before the first batch.

    The synthetic run finishes within one key press, so the two actions are called back to back
    (the worker thread only starts once the event loop runs again) and then we wait for the engine.
    """
    assert app.check_action("start", ()) is True
    app.action_start()
    assert app.check_action("pause", ())
    app.action_pause()
    await app.wait_for_event("paused")
    await pilot.pause()


async def asked_to_stop_a_paused_run(pilot, app: MnistApp, epochs: str) -> None:
    """A run of ``epochs`` started paused, then f7: "Stop training?" waits for y or n."""
    await ready(pilot, app)
    await set_field(pilot, app, "epochs", epochs)
    await start_paused(pilot, app)
    await pilot.press("f7")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    assert app.screen.message.endswith("It stays paused while you decide.")  # not "It trains on"
    assert app.screen.no == "Keep it paused"  # n leaves it paused: "Keep training" said otherwise


def the_run(app: MnistApp) -> Path:
    runs = [p for p in app.checkpoints_dir.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


async def test_first_frame_loads_data_in_the_background(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert app.data is not None
        assert "600 train / 200 test" in str(app.query_one(ProgressLine).render())


async def test_invalid_value_shows_inline_error_and_disables_start(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        start = app.query_one("#start-button", Button)
        assert not start.disabled
        await set_field(pilot, app, "lr", "-1")
        error = app.query_one("#error-lr", Static)
        assert error.display and "learning rate must be > 0" in str(error.render())  # the row's label
        assert start.disabled
        # the line says so at once ("Ready · f5 start" stood over the field in error until f5; walk29 F11)
        said_before_f5 = str(app.query_one(ProgressLine).render())
        app.query_one("#field-epochs", Input).focus()
        await pilot.press("f5")  # says what is wrong and goes there (it once did nothing at all)
        await pilot.pause()
        assert app.run_state == "idle" and not app.checkpoints_dir.exists()
        assert "Cannot start: learning rate must be > 0" in str(app.query_one(ProgressLine).render())
        assert app.focused is app.query_one("#field-lr", Input)
        await set_field(pilot, app, "epochs", "-")
        assert "epochs must be a whole number" in str(app.query_one("#error-epochs", Static).render())
        await set_field(pilot, app, "lr", "0.003")
        await set_field(pilot, app, "epochs", "2")
        assert not app.query_one("#error-lr", Static).display
        assert not start.disabled and app.check_action("start", ()) is True
        said_once_fixed = str(app.query_one(ProgressLine).render())
    assert "Cannot start: learning rate must be > 0" in said_before_f5, said_before_f5
    assert said_once_fixed.strip().startswith("Ready · "), said_once_fixed


async def test_preset_picker_fills_the_fields(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.query_one("#preset", Select).value = "lenet5"
        await pilot.pause()
        assert app.query_one("#field-model", Select).value == "lenet5"
        assert app.query_one("#field-epochs", Input).value == "10"
        assert app.query_one("#field-schedule", Select).value == "cosine"


async def test_training_run_grows_charts_saves_checkpoints_and_evaluates(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)  # to see the charts before any batch
        loss_chart = app.query_one("#loss-chart", TrainingChart)
        assert len(loss_chart.train) == 0
        await pilot.press("f6")
        await app.wait_for_event("epoch")
        await pilot.pause()
        points_after_one_epoch = len(loss_chart.train)
        assert points_after_one_epoch >= 1
        await run_to_completion(pilot, app)
        assert "finished" in app.events_seen
        assert len(loss_chart.train) >= points_after_one_epoch >= 1  # the series grew
        assert len(loss_chart.val) == 2 and len(app.query_one("#lr-chart", TrainingChart).train) > 1
        app.train_pane.redraw()
        await pilot.pause()
        assert "train" in str(loss_chart.render())  # the legend is drawn once there is data
        run = the_run(app)
        assert (run / "last.pt").is_file() and (run / "best.pt").is_file()
        assert app.run_state == "idle"
        # the finished run was evaluated on the test set for Results and Misclassified
        assert app.evaluation is not None and len(app.evaluation.labels) == 200
        # the form remembers the values used
        saved = json.loads(app.settings_path.read_text())
        assert saved["config"]["epochs"] == 2


async def test_form_remembers_last_values(make_app, settings_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "lr", "0.002")
        await set_field(pilot, app, "epochs", "1")
        await pilot.press("f5")
        await run_to_completion(pilot, app)
    again = make_app()
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.query_one("#field-lr", Input).value == "0.002"


async def test_pause_resume_and_finish(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)
        assert app.run_state == "paused"
        assert "PAUSED" in str(app.query_one(ProgressLine).render())
        assert app.check_action("resume", ()) and not app.check_action("pause", ())
        await pilot.press("f6")  # the same key resumes
        await app.wait_for_event("resumed")
        await run_to_completion(pilot, app)
        assert app.events_seen[-1] == "finished"
        assert app.run_state == "idle"


async def test_stop_asks_then_leaves_a_resumable_checkpoint_and_resume_from_runs(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await asked_to_stop_a_paused_run(pilot, app, "2")
        await pilot.press("n")  # keep training (still paused)
        await pilot.pause()
        assert app.run_state == "paused"
        await pilot.press("f7")
        await pilot.pause()
        await pilot.press("y")
        await app.wait_for_event("stopped")
        await ready(pilot, app)
        assert app.run_state == "idle"
        run = the_run(app)
        assert (run / "last.pt").is_file()
        said = app.run_view.quit_message.splitlines()
        # two lines, and the app's "resume from Runs (r)" left out once it has closed (walk34 F6)
        assert len(said) == 2 and said[0].endswith("last.pt") and "(r)" not in said[0]
        assert said[1].startswith(f"Resume with: mnist-tui train --resume {run.resolve()} --data-dir")
        await pilot.press("f2")  # no results yet: Results says where this run's are
        await pilot.pause()
        assert str(app.query_one("#results-note", Static).render()) == (
            f"{run.name} stopped before its test: Runs (f4), l evaluates it.")
        # resume it from the Runs view
        await pilot.press("f4")
        await ready(pilot, app)
        assert app.query_one(RunsPane).selected.path == str(run)
        await pilot.press("r")
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
        assert app.events_seen.count("started") == 2
        assert json.loads((run / "result.json").read_text())["epochs"] == 2
        said = []
        app.exit = lambda result=None, **kwargs: said.append(result)  # what quitting would print
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert said == [None]  # the run it stopped has since finished: no "Resume with" for it


async def test_quitting_during_a_run_asks_then_stops_and_saves(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await set_field(pilot, app, "epochs", "3")
        await start_paused(pilot, app)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.wait_for_event("stopped")
        await workers_done(app)
        await pilot.pause()
    assert not app.is_running
    assert (the_run(app) / "last.pt").is_file()


async def test_confusion_cell_opens_filtered_misclassified(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await a_finished_run(pilot, app)
        confusion = app.evaluation.confusion
        true_label, predicted = max(((t, p) for t in range(10) for p in range(10) if t != p),
                                    key=lambda tp: confusion[tp[0]][tp[1]])
        assert confusion[true_label][predicted] > 0, "the 1-epoch model should make some mistakes"
        await pilot.press("f2")
        await pilot.pause()
        table = app.query_one(ConfusionTable)
        assert app.focused is table
        table.move_cursor(row=true_label, column=predicted + 1)
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("#tabs").active == "misclassified"
        pane = app.query_one(MisclassifiedPane)
        assert (pane.true_label, pane.predicted_label) == (true_label, predicted)
        assert len(pane.examples) == confusion[true_label][predicted]
        assert all((m.true_label, m.predicted_label) == (true_label, predicted) for m in pane.examples)
        assert f"{len(pane.examples)} of {pane.total_wrong} wrong" in str(
            app.query_one("#wrong-bar", Static).render())
        grid = app.query_one(DigitGrid)
        assert app.focused is grid
        # sort and filter keys
        await pilot.press("c")
        assert len(pane.examples) == pane.total_wrong
        confidences = [m.confidence for m in pane.examples]
        assert confidences == sorted(confidences, reverse=True)
        looked_at = grid.current.index
        await pilot.press("s")
        indexes = [m.index for m in pane.examples]
        assert indexes == sorted(indexes) and grid.current.index == looked_at  # still on the same digit
        at = grid.selected
        await pilot.press("right")
        assert grid.selected == min(at + 1, len(pane.examples) - 1)


async def test_load_a_run_from_runs_and_unreadable_runs_are_reported(make_app, tmp_path, synthetic_data, tiny_config):
    from mnist_tui.core.engine import Trainer

    checkpoints = tmp_path / "runs"
    events = list(Trainer(tiny_config, synthetic_data, checkpoints_dir=checkpoints, run_name="good").run())
    assert events[-1].kind == "finished"
    (checkpoints / "broken").mkdir()
    (checkpoints / "broken" / "config.json").write_text("{ not json")
    app = make_app(checkpoints_dir=checkpoints)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("f4")
        await ready(pilot, app)
        pane = app.query_one(RunsPane)
        assert sorted(r.name for r in pane.runs) == ["broken", "good"]
        assert "1 unreadable" in str(app.query_one("#runs-status", Static).render())
        table = app.query_one("#runs-table", DataTable)
        table.move_cursor(row=[r.name for r in pane.runs].index("good"))
        await pilot.press("enter")
        await ready(pilot, app)
        assert app.query_one("#tabs").active == "results"
        assert app.evaluation is not None
        assert "good" in str(app.query_one("#results-summary", Static).render())
        assert abs(app.evaluation.accuracy - events[-1].test_accuracy) < 1e-6
        # delete asks first
        await pilot.press("f4")
        await ready(pilot, app)
        table.move_cursor(row=[r.name for r in pane.runs].index("broken"))
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await ready(pilot, app)
        assert not (checkpoints / "broken").exists() and (checkpoints / "good").exists()
        assert [r.name for r in pane.runs] == ["good"]
        assert app.evaluation is not None  # another run went: good's results stay
        # deleting the run whose results are shown takes them away (they stayed, and Why failed on its files)
        table.move_cursor(row=0)
        (checkpoints / "good" / "model.onnx").write_bytes(b"an export")  # the dialog names what goes with it
        (checkpoints / "good" / "notes.txt").write_text("lr 3e-3 looked best")
        (checkpoints / "good" / "tune.json").write_text(json.dumps({"study": "wide", "trial": 3}))  # a trial's
        await pilot.press("d")
        await pilot.pause()
        asked = " ".join(" ".join(str(w.render()) for w in app.screen.query(Static)).split())
        assert "It also holds model.onnx, notes.txt, deleted with it." in asked, asked
        assert "It is trial 3 of study wide, which keeps the trial's record." in asked, asked  # (walk37 F7)
        await pilot.press("y")
        await ready(pilot, app)
        assert not (checkpoints / "good").exists() and app.evaluation is None
        await pilot.press("f2")
        await pilot.pause()
        assert "good was deleted, and its results with it." in str(app.query_one("#results-note", Static).render())
        assert not app.query_one("#confusion").display
        await pilot.press("f3")
        await pilot.pause()
        misclassified = app.query_one(MisclassifiedPane)
        assert misclassified.checkpoint is None and misclassified.examples == []
        from mnist_tui.tui.widgets.digit_grid import DigitGrid  # it said "No evaluation yet" (walk24 11)

        assert "good was deleted, and its digits with it" in str(misclassified.query_one(DigitGrid).render())


async def test_missing_data_is_shown_in_a_dialog_and_the_app_stays_up(make_app, tmp_path):
    app = make_app(data_dir=tmp_path / "nowhere")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert isinstance(app.screen, MessageScreen)
        assert "Looked in" in app.screen.message and "--data-dir" in app.screen.message
        lines = app.screen.message.splitlines()
        assert lines[1].startswith("To fix:")  # the fix right under the problem, in view at 80x24
        assert "Error" not in lines[0]  # and no class names
        await pilot.press("enter")
        await pilot.press("f5")  # starting still reports the problem instead of crashing
        await pilot.pause()
        # the dataset is looked for again, here: no run's process is started only to fail the same way (the line
        # said "Form locked while the run trains" and the footer offered pause and stop until it had; walk29 F6)
        said_at_once = app.run_state, app.query_one(ProgressLine).progress.message
        await ready(pilot, app)
        assert isinstance(app.screen, MessageScreen) and "Looked in" in app.screen.message
        assert app.run_state == "idle" and app.is_running
        assert app.controller.serial == 0, said_at_once  # no run was started
    assert said_at_once[0] == "idle" and said_at_once[1] in (
        "Looking for MNIST again…", "MNIST could not be loaded · pick another dataset, or --data-dir")


async def test_a_dataset_put_in_place_after_it_was_missing_trains_at_the_first_f5(make_app, tmp_path, synthetic_root):
    folder = tmp_path / "later"
    app = make_app(data_dir=folder)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert isinstance(app.screen, MessageScreen)
        await pilot.press("enter")
        shutil.copytree(synthetic_root, folder)  # fixed in another terminal
        await pilot.press("f5")
        await ready(pilot, app)
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
    assert app.controller.serial == 1 and (the_run(app) / "result.json").is_file()


async def test_f5_on_a_dataset_not_on_disk_downloads_it_as_the_lr_finder_does(make_app, tmp_path, synthetic_root,
                                                                               monkeypatch):
    """f5 said "FashionMNIST is not on disk" without trying to download it; ctrl+l downloaded (walk36 F11). The
    download here copies the synthetic files into place, the way torchvision's would write them."""
    import torchvision.datasets

    folder = tmp_path / "data"
    shutil.copytree(synthetic_root, folder)

    def download(root, train, download):
        shutil.copytree(Path(root) / "MNIST", Path(root) / "FashionMNIST")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", download)
    app = make_app(data_dir=folder, download=True)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.query_one("#field-dataset", Select).value = "fashion-mnist"
        await pilot.pause()
        await pilot.press("f5")
        await ready(pilot, app)  # the download, then the run
        assert not isinstance(app.screen, MessageScreen), app.screen.message  # "FashionMNIST is not on disk."
        await app.wait_for_event("finished")
        await run_to_completion(pilot, app)
    assert json.loads((the_run(app) / "config.json").read_text())["dataset"] == "fashion-mnist"
    assert (the_run(app) / "result.json").is_file()


async def test_command_palette_lists_every_action_and_starts_training(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for title in ("Start training", "Pause training", "Resume training", "Stop training", "Show misclassified",
                      "Show results", "Show runs", "Load checkpoint", "Resume run", "Delete run"):
            assert title in titles
        # the keys panel once: Textual's own "Keys" entry showed the same panel (walk34 F9)
        assert "Help: keys of this view (?)" in titles and "Keys" not in titles
        await palette(pilot, "Start training")
        await run_to_completion(pilot, app)
        assert "finished" in app.events_seen


async def test_a_failing_run_is_reported_and_the_app_stays_usable(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.run_view.start(None, str(tmp_path / "no-such-run"))  # the child raises CheckpointError
        await ready(pilot, app)
        assert app.is_running and app.run_state == "idle"
        progress = app.query_one(ProgressLine).progress
        assert progress.state == "failed" and "no-such-run" in progress.message
        assert any(n.severity == "error" for n in app._notifications)
        await set_field(pilot, app, "epochs", "1")  # the form still works and a run still starts
        await pilot.press("f5")
        await run_to_completion(pilot, app)
        assert "finished" in app.events_seen


async def test_reflows_on_resize(make_app, synthetic_data):
    from tests.tui.test_snapshots import made_up_evaluation

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        charts = app.train_pane.charts
        assert [c.display for c in charts] == [True, False, False]  # one chart at a time at 80x24
        await pilot.press("f8")
        assert [c.display for c in charts] == [False, True, False]
        await pilot.resize_terminal(140, 48)
        await pilot.pause()
        assert all(c.display for c in charts)  # tall: all three
        app.show_evaluation(made_up_evaluation(synthetic_data.test_labels), synthetic_data.test_images, "made up")
        await pilot.press("f3")
        await pilot.pause()
        assert app.query_one(DigitGrid).layout_counts() == (2, 2)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert app.query_one(DigitGrid).layout_counts() == (3, 2)  # small digits where large fit one row


async def test_preset_picker_reads_custom_once_a_field_is_edited(make_app):
    from mnist_tui.core.config import PRESETS

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        preset = app.query_one("#preset", Select)
        assert preset.value == Select.NULL  # the remembered values are seed-mlp with val_size 100
        preset.value = "seed-mlp"
        await pilot.pause()
        assert app.query_one("#field-val_size", Input).value == "5000"
        assert preset.value == "seed-mlp"
        await set_field(pilot, app, "lr", "0.01")
        assert preset.value == Select.NULL
        assert app.query_one(HParamFormType).preset == "seed-mlp"  # still the base the values came from
        preset.value = "seed-mlp"  # picking it again resets the fields
        await pilot.pause()
        assert app.query_one("#field-lr", Input).value == f"{PRESETS['seed-mlp'].lr:g}"


def test_only_an_explicit_preset_overrides_the_remembered_form():
    from mnist_tui.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["--preset", "fast"]).preset == "fast"
    assert parser.parse_args(["--pre=lenet5"]).preset == "lenet5"
    assert parser.parse_args(["--data-dir", "d", "--checkpoints", "c"]).preset is None


async def test_palette_filters_misclassified_by_class(make_app, synthetic_data):
    from tests.tui.test_snapshots import made_up_evaluation

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.show_evaluation(made_up_evaluation(synthetic_data.test_labels), synthetic_data.test_images, "made up")
        await palette(pilot, "predicted as 4")
        pane = app.query_one(MisclassifiedPane)
        assert app.query_one("#tabs").active == "misclassified"
        assert pane.predicted_label == 4 and pane.true_label is None
        assert pane.examples and all(m.predicted_label == 4 for m in pane.examples)


async def test_the_palette_finds_the_tools_for_what_the_model_gets_wrong(make_app, synthetic_data, tmp_path, tiny_config):
    """Typing explain, why, nearest, label or map in the palette found nothing: e, n, l and M had no entry."""
    from mnist_tui.core.engine import Trainer
    from mnist_tui.tui.screens.map import MapScreen
    from tests.tui.test_snapshots import made_up_evaluation

    assert list(Trainer(tiny_config.replace(epochs=1), synthetic_data, checkpoints_dir=tmp_path / "runs",
                        run_name="tiny").run())[-1].kind == "finished"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.show_evaluation(made_up_evaluation(synthetic_data.test_labels), synthetic_data.test_images, "made up")
        pane = app.query_one(MisclassifiedPane)
        pane.set_checkpoint(tmp_path / "runs" / "tiny" / "best.pt", app.data_dir)  # as a loaded run's
        await palette(pilot, "suspected label errors")
        assert app.query_one("#tabs").active == "misclassified" and pane.label_errors_only
        await palette(pilot, "suspected label errors")
        assert not pane.label_errors_only
        await palette(pilot, "why was it wrong")
        assert pane.insight == "explain"
        await palette(pilot, "nearest training digits")
        assert pane.insight == "neighbours"
        await palette(pilot, "map of the test digits")
        for _ in range(3):
            await workers_done(app)
            await pilot.pause()
        assert isinstance(app.screen, MapScreen), [str(n.message) for n in app._notifications]


async def test_without_the_dataset_the_shipped_models_saved_results_are_shown(make_app, tmp_path, synthetic_data,
                                                                               tiny_config):
    from mnist_tui.core.analysis import evaluate, save_evaluation
    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.runs import DEFAULT_MODEL_RUN

    runs = tmp_path / "runs"
    list(Trainer(tiny_config.replace(epochs=1), synthetic_data, checkpoints_dir=runs, run_name=DEFAULT_MODEL_RUN).run())
    model, _ = model_from_checkpoint(load_checkpoint(runs / DEFAULT_MODEL_RUN / "best.pt"))
    result = evaluate(model, synthetic_data.test_images, synthetic_data.test_labels)
    save_evaluation(runs / DEFAULT_MODEL_RUN, result, synthetic_data.test_images, "best.pt")
    wrong = sum(result.confusion[t][p] for t in range(10) for p in range(10) if t != p)
    assert wrong > 0

    app = make_app(data_dir=tmp_path / "nowhere", checkpoints_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert isinstance(app.screen, MessageScreen)
        await pilot.press("enter")
        await ready(pilot, app)
        await pilot.press("f2")
        await pilot.pause()
        results = app.query_one(ResultsPane)
        summary = str(results.query_one("#results-summary", Static).render())
        assert "saved results" in summary and f"{result.accuracy:.2%}" in summary
        await pilot.press("f3")
        await pilot.pause()
        assert len(app.query_one(DigitGrid).examples) == wrong


async def test_results_after_a_stopped_run_say_they_are_another_runs_and_how_to_see_its_own(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await a_finished_run(pilot, app)
        first = next(p for p in app.checkpoints_dir.iterdir() if p.is_dir())
        app.events_seen.clear()  # the next run's events (waiting for "paused" after a "finished" refuses)
        await asked_to_stop_a_paused_run(pilot, app, "2")
        await pilot.press("y")
        await app.wait_for_event("stopped")
        await ready(pilot, app)
        stopped = next(p for p in app.checkpoints_dir.iterdir() if p.is_dir() and p != first)
        await pilot.press("f2")
        await pilot.pause()
        note = app.query_one("#results-note", Static)
        assert first.name in str(app.query_one("#results-summary", Static).render())  # still the first run's
        assert note.display and str(note.render()) == (f"{stopped.name} stopped before its test: these are not its "
                                                       "results. Runs (f4), l evaluates it.")
        await pilot.press("f4")
        await ready(pilot, app)
        assert app.query_one(RunsPane).selected.path == str(stopped)
        await pilot.press("l")
        await workers_done(app)
        await pilot.pause()
        assert stopped.name in str(app.query_one("#results-summary", Static).render()) and not note.display


async def test_the_stop_question_says_the_run_trains_on_meanwhile(make_app):
    """Asked at epoch 2, a run stopped at epoch 3: the question did not say it keeps training (while it
    trains), nor, once it could say so, that a paused run stays paused (asked_to_stop_a_paused_run checks)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await asked_to_stop_a_paused_run(pilot, app, "2")
        asked = " ".join(" ".join(str(w.render()) for w in app.screen.query(Static)).split())
        assert "resume later from Runs (r). It stays paused while you decide." in asked
        await pilot.press("n")
        await pilot.pause()
        assert app.run_state == "paused"
        await pilot.press("f7")  # ended, as a run must be before the app goes
        await pilot.pause()
        await pilot.press("y")
        await app.wait_for_event("stopped")


async def test_results_during_a_new_run_say_they_are_another_runs(make_app):
    """Results showed the last run's matrix while a new run trained, with nothing to say whose (walk20 F9)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await a_finished_run(pilot, app)
        first = the_run(app)
        app.events_seen.clear()
        await set_field(pilot, app, "epochs", "2")
        await start_paused(pilot, app)
        second = next(p for p in app.checkpoints_dir.iterdir() if p.is_dir() and p != first)
        await pilot.press("f2")
        await pilot.pause()
        note = app.query_one("#results-note", Static)
        shown = note.display, str(note.render())
        await pilot.press("f6")
        await run_to_completion(pilot, app)
        assert shown == (True, f"{second.name} is training: these are not its results; its own show here when it "
                               "ends."), shown
        assert second.name in str(app.query_one("#results-summary", Static).render()) and not note.display
