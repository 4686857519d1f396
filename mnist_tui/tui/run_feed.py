"""What a run's events look like on screen: the Train view, the status line and the notifications.

The run controller (core.controller) decides the run's state; this turns each batch of
its events into what a person sees, in one place: chart points and epochs for the Train
view, the progress line's figures, the Finished/Stopped/Failed messages, the resumed
run's history and config, and what to print after the app closes mid-run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import TrainConfig
from ..core.events import EpochEnd, Event, Failed, Finished, LrChanged, RunStarted, StepMetrics, Stopped
from ..core.formatting import percent
from ..core.runs import read_metrics, read_points
from .panes.results import ResultsPane
from .settings import save_form
from .widgets.dialogs import MessageScreen
from .widgets.hparam_form import HParamForm
from .widgets.progress import ProgressLine, format_rate

if TYPE_CHECKING:
    from .app import MnistApp


class RunFeed:
    """Shows the controller's events; owned by the app, which hands it each batch."""

    def __init__(self, app: MnistApp) -> None:
        self.app = app
        self.form_to_save: tuple[str | None, TrainConfig] | None = None  # remembered once the run has started
        self.quit_message: str | None = None  # printed after the app closes (where a stopped run was saved)

    def show(self, events: list[Event]) -> None:
        app = self.app
        points = [event for event in events if isinstance(event, StepMetrics)]
        for event in events:
            app.controller.handle(event)
            if not isinstance(event, StepMetrics):
                self._show_event(event)
        if points:
            app.train_pane.add_points(points)
            last = points[-1]
            app.set_progress(epoch=last.epoch, step=last.step, global_step=last.global_step,
                             samples_per_s=last.samples_per_s, elapsed_s=last.elapsed_s)

    def _show_event(self, event: Event) -> None:
        app = self.app
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, EpochEnd):
            app.train_pane.epoch_end(event)
            app.set_progress(best_val=event.best_val_accuracy)
        elif isinstance(event, LrChanged):
            app.set_progress(message=f"learning rate x{event.factor:g} from step {event.global_step}")
        elif isinstance(event, Stopped):
            where = f"Stopped {Path(event.run_dir).name} at epoch {event.epoch}, step {event.step} · saved " \
                    f"{event.checkpoint} · resume from Runs (r)"
            self.quit_message = f"{where}\nResume with: mnist-tui train --resume {Path(event.run_dir).resolve()}" + (
                f" --data-dir {Path(app.data_dir).resolve()}" if app.data_dir else "")
            app.set_progress(state="idle", message=where)
        elif isinstance(event, Finished):
            self._finished(event)
        elif isinstance(event, Failed):
            app.notify(event.reason, title="Training failed", severity="error", timeout=10)
            app.set_progress(state="failed", message=f"Failed: {event.reason}")
        # Paused and Resumed: the controller's state says it

    def _started(self, event: RunStarted) -> None:
        app = self.app
        if self.form_to_save is not None:  # a config is remembered only once it has started
            save_form(app.settings_path, *self.form_to_save)
            self.form_to_save = None
        run_dir = Path(event.run_dir)
        resumed = event.start_epoch or event.start_step
        app.train_pane.run_started(event, read_points(run_dir) if resumed else [],
                                   read_metrics(run_dir)[:event.start_epoch] if resumed else [])
        if resumed:  # the form shows the run's own config
            app.query_one(HParamForm).set_config(TrainConfig.from_dict(event.config), None)
        start_step = event.start_epoch * event.steps_per_epoch + event.start_step
        app.set_progress(state="running", epoch=event.start_epoch + 1, epochs=event.epochs, step=event.start_step,
                         steps_per_epoch=event.steps_per_epoch, global_step=start_step, start_step=start_step,
                         samples_per_s=0.0, elapsed_s=0.0, best_val=None)

    def _finished(self, event: Finished) -> None:
        app = self.app
        rate = app.query_one(ProgressLine).progress.samples_per_s
        source = f"{event.run_name} · last (epoch {event.epochs})"
        app.notify(f"test {percent(event.test_accuracy)} ({source}) · f2 Results", title="Finished")
        app.set_progress(state="idle", message=(
            f"Finished {source} · test {percent(event.test_accuracy)} · best val "
            f"{percent(event.best_val_accuracy)} · {format_rate(rate)} · f2 Results · f3 Misclassified"))
        app.query_one(ResultsPane).show_saved(event.run_dir, app.dataset_cache, app.checkpoints_dir)

    def crashed(self, reason: str, data_unavailable: bool) -> None:
        """The run could not start or its process died."""
        app = self.app
        if data_unavailable:
            self.form_to_save = None
            app.set_progress(state="failed", message="Cannot train: the dataset is missing (see the message).")
            app.push_screen(MessageScreen("The dataset could not be loaded",
                                          f"{reason}\n\nOr pick another dataset in the form's \"dataset\" field."))
            return
        app.notify(reason, title="Training failed", severity="error", timeout=10)
        app.set_progress(state="failed", message=f"Failed: {reason}")


__all__ = ["RunFeed"]
