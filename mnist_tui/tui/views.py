"""The views pushed over the tabs (Draw, Tune, the learning-rate finder) and what each hands back.

Each opens from the app's keys and palette with what it needs from the Train form, and
what it returns lands in the form (a learning rate, the best trial's config) or in
Results (a trial's run). Their modules load when first opened, not at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.formatting import percent
from .widgets.hparam_form import HParamForm

if TYPE_CHECKING:
    from .app import MnistApp


class Views:
    """Opens the pushed views for the app; one of each at a time."""

    def __init__(self, app: MnistApp) -> None:
        self.app = app
        self.tune_memory: dict[str, str] = {}  # Tune's fields as last typed, for the next time it opens
        self.drawing: dict[str, Any] = {}  # Draw's canvas as last drawn, for the next time it opens

    @property
    def form(self) -> HParamForm:
        return self.app.query_one(HParamForm)

    def draw(self, model: str | None = None) -> None:
        """Draw, read by ``model`` (a run or file), else by the model whose results are shown (it was the
        shipped model while a person looked at their own run's errors), else by the shipped model."""
        from .panes.misclassified import MisclassifiedPane
        from .screens.draw import DrawScreen  # numpy loads when the view first opens

        if not isinstance(self.app.screen, DrawScreen):
            model = model or self.app.query_one(MisclassifiedPane).checkpoint
            self.app.push_screen(DrawScreen(model, checkpoints_dir=self.app.checkpoints_dir, kept=self.drawing))

    def tune(self) -> None:
        """Tune (Optuna sweeps), its base config the form's values."""
        from .screens.tune import TuneScreen

        if isinstance(self.app.screen, TuneScreen):
            return
        config, errors = self.form.read(ignore=("lr",))  # every default search has the lr
        if config is None:  # as F5 and the learning-rate finder do: a study of another config would surprise
            self.app.run_view.refuse(errors, "tune")
            return
        self.app.push_screen(TuneScreen(config, checkpoints_dir=self.app.checkpoints_dir,
                                            data_dir=self.app.data_dir, preset=self.form.preset or "fast",
                                            memory=self.tune_memory))

    def use_best(self, message: Any) -> None:
        """Tune's "Use best": the best trial's config in the form."""
        self.app.pop_screen()
        self.form.set_config(message.config, None)
        self.app.action_show_tab("train")
        self.form.show_top()
        when = "" if self.app.controller.allowed("start") else " once this run ends"  # the form is locked till then
        self.app.notify(f"The form holds the best trial's config (val {percent(message.value)}): f5 trains it{when}.")

    def open_run(self, message: Any) -> None:
        """Tune's enter on a trial: its run in Results and Misclassified."""
        self.app.pop_screen()
        self.app.load_run(Path(message.run_dir))

    def find_lr(self) -> None:
        """The learning-rate range test for the form's config; "Use it" fills the form's learning rate."""
        from .screens.lr_find import LrFindScreen

        form = self.form
        config, errors = form.read(ignore=("lr",))  # the one field it sweeps, and fills
        if config is None:
            self.app.run_view.refuse(errors, "find a learning rate")
            return

        def use(lr: float | None) -> None:
            if lr is not None:
                form.set_config(config.replace(lr=lr), None)
                when = "" if self.app.controller.allowed("start") else " once this run ends"  # the form is locked
                tune = self.app.screen if type(self.app.screen).__name__ == "TuneScreen" else None
                if tune is None:
                    self.app.notify(f"learning rate {lr:.3g} in the form: f5 trains with it{when}.")
                    return
                # from Tune: f5 does nothing there, and a study searching lr goes on doing so (walk41 F7)
                lr_spec = next((spec for spec in tune.query_one("#tune-search").value.split()
                                if spec.startswith("lr=")), None)
                searched = f" The study searches its own lr ({lr_spec})." if lr_spec else ""
                self.app.notify(f"learning rate {lr:.3g} in the Train form: esc, then f5 trains with it{when}."
                                f"{searched}")

        from .screens.tune_questions import unless_busy

        unless_busy(self.app, lambda: self.app.push_screen(LrFindScreen(config, data_dir=self.app.data_dir), use),
                    "Find a learning rate while {what} trains?", "The range test")


__all__ = ["Views"]
