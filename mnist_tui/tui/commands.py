"""The command palette's entries (ctrl+p): each names its key, and its title holds the words people search for."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand

if TYPE_CHECKING:
    from .app import MnistApp


def app_commands(app: MnistApp) -> Iterable[SystemCommand]:
    """Every action of the app and its panes, found by typing part of the title."""
    from .panes.misclassified import MisclassifiedPane
    from .panes.runs import RunsPane
    from .panes.train import TrainPane

    runs = app.query_one(RunsPane)
    wrong = app.query_one(MisclassifiedPane)
    train = app.query_one(TrainPane)

    def in_tab(tab: str, action) -> None:
        app.action_show_tab(tab)
        action()

    yield SystemCommand("Start training", "Train with the form's settings (f5)", app.action_start)
    yield SystemCommand("Pause training", "Pause the run at the next batch (f6)", app.action_pause)
    yield SystemCommand("Resume training", "Continue a paused run (f6)", app.action_resume)
    yield SystemCommand("Stop training", "Stop and save a resumable checkpoint (f7)", app.action_stop)
    yield SystemCommand("Halve the learning rate (steer)", "The running run's lr x0.5 from the next batch "
                        "(- in Train)", lambda: app.action_steer(0.5))
    yield SystemCommand("Double the learning rate (steer)", "The running run's lr x2 from the next batch "
                        "(+ in Train)", lambda: app.action_steer(2.0))
    yield SystemCommand("Find learning rate (lr finder)", "Range test on the form's config; Use it fills the "
                        "form (ctrl+l)", app.action_find_lr)
    yield SystemCommand("Tune hyperparameters (Optuna sweep)", "Search, watch trials, use the best (f10)",
                        app.action_tune)
    yield SystemCommand("Show train view", "Form and live charts (f1)",
                        lambda: app.action_show_tab("train"))
    yield SystemCommand("Show results", "Test accuracy and confusion (f2)",
                        lambda: app.action_show_tab("results"))
    yield SystemCommand("Show misclassified", "The wrong digits (f3)",
                        lambda: app.action_show_tab("misclassified"))
    yield SystemCommand("Show runs", "Saved runs and checkpoints (f4)",
                        lambda: app.action_show_tab("runs"))
    yield SystemCommand("Next chart", "Cycle the charts (f8)", lambda: in_tab("train", app.action_next_chart))
    yield SystemCommand("Loss chart log scale", "log10 of the loss on / off, ticks in real losses (ctrl+y in Train)",
                        lambda: in_tab("train", train.action_toggle_log))
    yield SystemCommand("Smooth the loss chart", "Train loss smoothing off / light / heavy (ctrl+t in Train)",
                        lambda: in_tab("train", train.action_cycle_smoothing))
    yield SystemCommand("Draw a digit", "Draw with mouse or keys; a model reads it live (f9)", app.action_draw)
    yield SystemCommand("Draw with the selected run", "Draw, read by the run selected in Runs (w)",
                        lambda: in_tab("runs", runs.action_draw))
    yield SystemCommand("Draw with the shipped model", "Draw, read by the model mnist-tui ships, whatever run is "
                        "loaded (the drawing stays from one model to the next)", lambda: draw_shipped(app))
    yield SystemCommand("Compare runs", "Curves and config of the runs marked in Runs (m marks, c compares)",
                        lambda: in_tab("runs", runs.action_compare))
    yield SystemCommand("Load checkpoint", "Its test results in Results (l in Runs)",
                        lambda: in_tab("runs", runs.action_load))
    yield SystemCommand("Resume run", "Continue it (r in Runs)",
                        lambda: in_tab("runs", runs.action_resume_run))
    yield SystemCommand("Delete run", "Delete its folder (d in Runs)",
                        lambda: in_tab("runs", runs.action_delete))
    yield SystemCommand("Refresh runs", "Re-read the checkpoints folder (ctrl+r)", runs.refresh_runs)
    yield SystemCommand("Sort runs", "By the next column; S reverses (s in Runs)",
                        lambda: in_tab("runs", runs.action_sort))
    yield SystemCommand("Filter runs", "Show runs whose name, model or state holds a text (/ in Runs)",
                        lambda: in_tab("runs", runs.action_filter))
    yield SystemCommand("Show the run's config", "Every field of the selected run (i in Runs)",
                        lambda: in_tab("runs", runs.action_show_config))
    yield SystemCommand("Load the run's config into the form", "Train a new run like the selected one (f in Runs)",
                        lambda: in_tab("runs", runs.action_config_to_form))
    yield SystemCommand("Sort misclassified", "Toggle confidence / index order (s)",
                        lambda: in_tab("misclassified", wrong.action_toggle_sort))
    yield SystemCommand("Filter misclassified by true class", "Next true class (t)",
                        lambda: in_tab("misclassified", lambda: wrong.action_cycle_true(1)))
    yield SystemCommand("Filter misclassified by predicted class", "Next predicted class (p)",
                        lambda: in_tab("misclassified", lambda: wrong.action_cycle_predicted(1)))
    yield SystemCommand("Clear misclassified filters", "Show every wrong digit (c)",
                        lambda: in_tab("misclassified", wrong.action_clear_filters))
    yield SystemCommand("Small or large misclassified digits", "Half-size digits, three times as many to a page "
                        "at 80x24, or full size (z)", lambda: in_tab("misclassified", wrong.action_toggle_small))
    yield SystemCommand("Why was it wrong (explain, attribution)", "The pixels that pushed the model towards its answer "
                        "and away from the label (e in Misclassified)",
                        lambda: in_tab("misclassified", lambda: wrong.action_insight("explain")))
    yield SystemCommand("Why method: occlusion / integrated gradients", "Switch how Why works it out (m in Misclassified)",
                        lambda: in_tab("misclassified", wrong.action_toggle_method))
    yield SystemCommand("Nearest training digits", "The training digits the model sees as closest to the selected one "
                        "(n in Misclassified)", lambda: in_tab("misclassified", lambda: wrong.action_insight("neighbours")))
    yield SystemCommand("Suspected label errors", "Only the wrong digits whose label looks wrong, on / off "
                        "(l in Misclassified)", lambda: in_tab("misclassified", wrong.action_toggle_label_errors))
    yield SystemCommand("Map of the test digits (PCA, UMAP, t-SNE)", "Every test digit placed by the model's features "
                        "(M in Misclassified)", lambda: in_tab("misclassified", wrong.action_open_map))
    # the words people search for, as hidden aliases (found by typing, not listed)
    for title, action in (("Evaluate the selected run (load)", lambda: in_tab("runs", runs.action_load)),
                          ("Export or save: Draw's save PNG is s in Draw", app.action_draw),
                          ("Preset: pick one in the Train form", lambda: in_tab("train", train.query_one("#form").show_top)),
                          ("Help: keys of this view (?)", app.action_show_help_panel),
                          ("Train more epochs of the selected finished run",
                           lambda: in_tab("runs", runs.action_resume_run))):
        yield SystemCommand(title, "", action, discover=False)
    # one command per class, found by typing ("true 7", "predicted 3") rather than listed
    for label in range(10):
        yield SystemCommand(f"Misclassified with true class {label}", f"Wrong digits that are really {label}",
                            functools.partial(_filter, app, wrong, "true", label), discover=False)
        yield SystemCommand(f"Misclassified predicted as {label}", f"Wrong digits the model called {label}",
                            functools.partial(_filter, app, wrong, "predicted", label), discover=False)


def _filter(app: MnistApp, pane, which: str, label: int) -> None:
    true, predicted = pane.true_label, pane.predicted_label
    app.action_show_tab("misclassified")
    pane.set_filter(label if which == "true" else true, label if which == "predicted" else predicted)


def draw_shipped(app: MnistApp) -> None:
    """Draw with the shipped model: once a run was loaded, nothing but a restart went back to it (walk34 F11)."""
    from ..core.runs import default_model_candidates, find_default_model

    from .screens.draw import DrawScreen

    shipped = find_default_model(app.checkpoints_dir)
    if shipped is not None and isinstance(app.screen, DrawScreen):  # read by another model: Draw again, with it
        app.pop_screen()
    if shipped is None:
        where = ", ".join(str(path) for path in default_model_candidates(app.checkpoints_dir))
        app.notify(f"No shipped model here (looked in {where}).", severity="warning")
    else:
        app.action_draw(str(shipped))
