"""The Misclassified view: wrong digits as terminal art, sorted and filtered, with a detail panel."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from ...core.model_cache import ModelCache, TrainingNeighbours
from ..widgets.digit_grid import GRID_KEYS, PANEL_KEYS, DigitDetail, DigitGrid
from ..widgets.fit import class_label, fit_parts
from ..widgets.insight_panel import ALIKE, METHOD_TITLES, NO_TRAINING_SET, ExplainView, InsightPanel, NeighboursView
from .map_launch import MapLauncher

NO_TEST_SET = ("Suspected label errors need the whole test set, which is not on disk: start the app with "
               "--data-dir (or MNIST_TUI_DATA) pointing at it.")


def _next_filter(value: int | None, step: int, other: int | None) -> int | None:
    """Cycle any -> 0 -> 1 ... -> 9 -> any (or backwards), past ``other`` (the other filter: true 3, pred 3 is no error)."""
    order: list[int | None] = [None, *(d for d in range(10) if d != other)]
    return order[((order.index(value) if value in order else 0) + step) % len(order)]


class MisclassifiedPane(MapLauncher, Vertical):
    BINDINGS = [
        Binding("s", "toggle_sort", "Sort"),
        Binding("t", "cycle_true(1)", "True"),
        Binding("T", "cycle_true(-1)", "True, back", show=False),
        Binding("p", "cycle_predicted(1)", "Pred"),
        Binding("P", "cycle_predicted(-1)", "Pred, back", show=False),
        Binding("c", "clear_filters", "Clear"),
        # kept out of the footer (it is full at 80 columns); the detail panel names them
        Binding("l", "toggle_label_errors", "Label errors", show=False),
        Binding("e", "insight('explain')", "Explain", show=False),
        Binding("n", "insight('neighbours')", "Nearest", show=False),
        Binding("m", "toggle_method", "Method", show=False),
        Binding("M", "open_map", "Map", show=False),
        Binding("z", "toggle_small", "Small digits", show=False, tooltip="Small or large digits"),
        Binding("escape", "close_insight", "Back", show=False),
        # while Why or Nearest is open (the grid, when focused, moves by these itself); home and end: to either end
        Binding("left,up", "step_insight(-1)", "Previous digit", show=False),
        Binding("right,down", "step_insight(1)", "Next digit", show=False),
        Binding("home", "step_insight(-1_000_000)", "First digit", show=False),
        Binding("end", "step_insight(1_000_000)", "Last digit", show=False),
    ]

    class InsightReady(Message):
        """A worker finished (or progressed on) an explanation or a neighbour search."""

        def __init__(self, content: ExplainView | NeighboursView | str) -> None:
            super().__init__()
            self.content = content

    class LabelIssuesReady(Message):
        """Suspected label errors of the whole test set, worked out for ``evaluation``."""

        def __init__(self, evaluation: Any, issues: dict[int, Any] | None) -> None:  # None: no test set
            super().__init__()
            self.evaluation, self.issues = evaluation, issues

    def __init__(self) -> None:
        super().__init__(id="misclassified-pane")
        self.checkpoint: str | None = None  # set_checkpoint: the evaluation's checkpoint file, and
        self.data_dir: str | None = None  # the data folder (None: the default)
        self.label_issues: dict[int, Any] | None = None  # None: the evaluation is not the whole test set
        self.no_test_set = False  # and the test set to rank the labels on is not on disk
        self._none_yet = "No evaluation yet: finish a run, or load one from Runs (f4)."  # the grid without one
        self.label_errors_only = False
        self.insight: str | None = None  # "explain", "neighbours" or None (the grid is shown)
        self._insight_index: int | None = None  # the test digit the open panel is for
        self.method = "occlusion"  # legible at this resolution; per-pixel IG maps of a CNN are speckled
        self._models = ModelCache()  # the evaluation's model, loaded once per checkpoint version
        self._training_neighbours = TrainingNeighbours()  # the n panel's and the Map's, built once per checkpoint
        self.evaluation = self.images = None  # (Any)
        self.sort_by = "confidence"
        self.true_label = self.predicted_label = None  # (int | None): the filters
        self.total_wrong = 0
        self.examples: list[Any] = []
        self.class_names: tuple[str, ...] | None = None  # None: the digits themselves

    def compose(self) -> ComposeResult:
        yield Static(id="wrong-bar")
        with Horizontal(id="wrong-body"):
            yield DigitGrid(id="digit-grid")
            yield InsightPanel(id="insight-panel")
            yield DigitDetail(id="digit-detail")

    def on_mount(self) -> None:
        self.query_one(InsightPanel).display = False
        self.refresh_examples()

    def set_evaluation(self, evaluation: Any, images: Any, class_names: tuple[str, ...] | None = None,
                       tta: bool = False) -> None:
        self.evaluation, self.images, self.class_names = evaluation, images, class_names
        self.query_one(DigitDetail).tta = tta  # its confidence is the shifts' average (walk32 F4)
        self.true_label = self.predicted_label = None
        self.label_issues, self.label_errors_only, self.no_test_set = None, False, False  # another model's suspects
        if evaluation is not None:
            self._none_yet = "No evaluation yet: finish a run, or load one from Runs (f4)."
            from ...core.label_errors import issues_for_evaluation  # fast: arithmetic on [N, 10]

            self.label_issues = issues_for_evaluation(evaluation.probabilities, evaluation.labels)
        self.query_one(DigitGrid).flagged = set(self.label_issues or ())
        self.action_close_insight()
        self.refresh_examples(keep_place=False)  # another run's digits: from the first (a new run's opened mid-list)
        self.refresh_bindings()
        self._find_label_issues_if_needed()

    def set_checkpoint(self, checkpoint: str | None, data_dir: str | None = None) -> None:
        """The checkpoint file the evaluation came from (for e, n and the label check), and the data folder."""
        self.checkpoint = str(checkpoint) if checkpoint else None
        self.data_dir = str(data_dir) if data_dir else None
        self._find_label_issues_if_needed()
        self.supersede_map()

    def _find_label_issues_if_needed(self) -> None:
        """A saved evaluation holds only the wrong digits: rank labels from the whole test set instead."""
        if self.evaluation is not None and self.label_issues is None and self.checkpoint and self.is_mounted:
            self._find_label_issues(self.checkpoint, self.data_dir, self.evaluation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="label-issues")
    def _find_label_issues(self, checkpoint: str, data_dir: str | None, evaluation: Any) -> None:
        from ...core.data import DataUnavailable, load_mnist
        from ...core.embeddings import cached_embeddings
        from ...core.label_errors import find_label_issues

        worker = get_current_worker()
        try:
            model, config, path = self._models.get(checkpoint)
            data = load_mnist(data_dir, download=False, dataset=config.dataset, only="test")
            test = cached_embeddings(model, path, data.test_images, data.test_labels, "test",
                                     cancel=lambda: worker.is_cancelled)
        except DataUnavailable:  # no test set here: no badges (the bar shows no label count), l says why
            self.post_message(self.LabelIssuesReady(evaluation, None))
            return
        except (InterruptedError, OSError):
            return
        if len(test.labels) == len(evaluation.labels) and not worker.is_cancelled:
            issues = {issue.index: issue for issue in find_label_issues(test.probabilities, test.labels)}
            self.post_message(self.LabelIssuesReady(evaluation, issues))

    def on_misclassified_pane_label_issues_ready(self, message: LabelIssuesReady) -> None:
        if message.evaluation is not self.evaluation:
            return  # an older evaluation's answer
        if message.issues is None:
            self.no_test_set = True
            if self.label_errors_only:
                self.refresh_examples()
            return
        self.label_issues = message.issues
        grid = self.query_one(DigitGrid)
        grid.flagged = set(message.issues)
        if self.label_errors_only:
            self.refresh_examples()
        else:
            grid.refresh()
            self.on_digit_grid_highlighted(DigitGrid.Highlighted(grid, grid.current))

    def set_filter(self, true_label: int | None, predicted_label: int | None) -> None:
        """Every wrong digit of this pair (a Results cell, the map): "label errors only" goes too."""
        self.true_label, self.predicted_label, self.label_errors_only = true_label, predicted_label, False
        self.refresh_examples()

    def refresh_examples(self, keep_place: bool = True) -> None:
        """The list again (another sort, filter or evaluation), staying on the digit looked at where it still
        holds it (a sort went back to the first digit); else (or not ``keep_place``) at the first."""
        grid = self.query_one(DigitGrid)
        looked_at = grid.current.index if grid.current is not None and keep_place else None
        if self.evaluation is None:
            self.examples, self.total_wrong = [], 0
            grid.set_examples([], None, self._none_yet)
        else:
            from ...core.analysis import misclassified_examples  # torch is loaded once an evaluation exists

            everything = misclassified_examples(self.evaluation, sort_by=self.sort_by)
            self.total_wrong = len(everything)
            self.examples = [
                m for m in everything
                if (self.true_label is None or m.true_label == self.true_label)
                and (self.predicted_label is None or m.predicted_label == self.predicted_label)
                and (not self.label_errors_only or m.index in (self.label_issues or {}))
            ]
            grid.set_examples(self.examples, self.images, "No misclassified digits match this filter (c clears it)."
                              if not self.label_errors_only or self.label_issues is not None else NO_TEST_SET
                              if self.no_test_set else "Working out the suspected label errors from the whole test set…")
            grid.selected = next((k for k, m in enumerate(self.examples) if m.index == looked_at), 0)
        self._update_bar()
        self._reopen_insight()  # an open Why or Nearest follows the digit a filter or the sort leaves selected

    def bar_parts(self) -> list[tuple[str, str, int]]:
        """The bar's parts: (separator, markup, rank); the lowest rank goes first when the bar is too narrow."""
        only, flags = " [b]only[/]" if self.label_errors_only else "", self.label_issues is not None
        # "216 wrong" while none is filtered out, else "5 of 216 wrong": "shown 216 of 216 wrong" pushed "at N" off
        shown = len(self.examples)
        parts = [
            ("", f"sort [b]{self.sort_by}[/]", 9),
            (" · ", f"true [b]{class_label(self.true_label, self.class_names)}[/]", 9),
            (" · ", f"pred [b]{class_label(self.predicted_label, self.class_names)}[/]", 9),
            (" · ", "" if self.evaluation is None else f"[b]{shown:,}[/] wrong" if shown == self.total_wrong else
             f"[b]{shown:,}[/] of {self.total_wrong:,} wrong", 8),  # "0 wrong" before any evaluation read as perfect
            (" · ", f"at {self.query_one(DigitGrid).selected + 1:,}", 0) if self.examples else None,
            (" · ", f"⚑ {len(self.label_issues or ()):,}{only}", 9) if flags
            else (" ", "[b]label errors only[/]" if only else "", 9),
            (" ", "(l)", 1) if flags else None,  # the key to the filter
        ]
        return [p for p in parts if p and p[1]]

    def _update_bar(self) -> None:
        bar = self.query_one("#wrong-bar", Static)
        bar.update(fit_parts(self.bar_parts(), bar.content_size.width or 78))

    def on_resize(self) -> None:  # fitted again: narrowed, it was cut after a separator (walk36 F9)
        self.call_after_refresh(self._update_bar)

    def on_digit_grid_highlighted(self, event: DigitGrid.Highlighted) -> None:
        example = event.example
        pixels = self.images[example.index] if example is not None and self.images is not None else None
        issue = (self.label_issues or {}).get(example.index) if example is not None else None
        self.query_one(DigitDetail).show(example, pixels, self.class_names, issue)
        self._update_bar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_sort", "cycle_true", "cycle_predicted", "clear_filters") and self.evaluation is None:
            return False  # no digits to sort or filter: the footer offered the keys, and they did nothing
        return super().check_action(action, parameters)

    def action_toggle_sort(self) -> None:
        self.sort_by = "index" if self.sort_by == "confidence" else "confidence"
        self.refresh_examples()

    def action_cycle_true(self, step: int) -> None:
        self.true_label = _next_filter(self.true_label, step, self.predicted_label)
        self.refresh_examples()

    def action_cycle_predicted(self, step: int) -> None:
        self.predicted_label = _next_filter(self.predicted_label, step, self.true_label)
        self.refresh_examples()

    def action_clear_filters(self) -> None:
        self.set_filter(None, None)

    def action_toggle_label_errors(self) -> None:
        """Only the suspected label errors, or all again, staying on the digit looked at where the list holds it
        (off again, the list went back to its first digit)."""
        if not self.label_errors_only and self.label_issues is None and (self.no_test_set or not self.checkpoint):
            self.notify(NO_TEST_SET if self.no_test_set else "Suspected label errors need the run's checkpoint: "
                        "load the run from Runs (f4).", severity="warning")  # it filtered every digit out for nothing
            return
        from ...core.label_errors import too_weak  # torch is loaded once an evaluation exists

        if not self.label_errors_only and self.label_issues == {} and (
                accuracy := too_weak(self.evaluation.probabilities, self.evaluation.labels)) is not None:
            self.notify(f"No label is flagged: the model reads only {accuracy:.0%} of the digits right, "
                        "too few for its doubts to point at wrong labels.", severity="warning")
            return
        self.label_errors_only = not self.label_errors_only
        self.refresh_examples()

    def show_deleted(self, run_name: str) -> None:
        """The loaded run was deleted (its evaluation is forgotten): the grid says so, as Results does."""
        self._none_yet = f"{run_name} was deleted, and its digits with it: finish a run, or load one from Runs (f4)."
        self.refresh_examples()

    # --- why was it wrong: attribution maps and nearest training digits, computed in a worker ---

    def action_insight(self, kind: str) -> None:
        """Show (or, pressed again, hide) the explain or neighbours panel for the selected digit."""
        if self.insight == kind:
            self.action_close_insight()
            return
        example = self.query_one(DigitGrid).current
        if example is None or self.images is None:
            self.notify("No digit matches this filter: c clears it." if self.total_wrong else
                        "No run loaded: finish a run, or load one from Runs (f4)." if self.evaluation is None else
                        "No digit is misclassified.", severity="warning")
            return
        if self.checkpoint is None:
            self.notify("Explaining needs the run's checkpoint: load the run from Runs (f4).", severity="warning")
            return
        self.insight, self._insight_index = kind, example.index
        panel = self.query_one(InsightPanel)
        self.query_one(DigitGrid).display = False
        panel.display = True
        panel.show("Working out the attribution maps…" if kind == "explain" else "Looking for the nearest training digits…")
        panel.can_focus = True
        panel.focus()
        self._show_keys(PANEL_KEYS)
        self._compute_insight(kind, example, self.images[example.index])

    def action_step_insight(self, delta: int) -> None:
        """The open panel (Why or Nearest) for the previous or next digit of the grid."""
        grid = self.query_one(DigitGrid)
        target = min(max(grid.selected + delta, 0), len(grid.examples) - 1)
        if self.insight is None or target == grid.selected:
            return
        grid.action_move(target - grid.selected)
        self._reopen_insight()

    def action_toggle_small(self) -> None:
        grid = self.query_one(DigitGrid)
        grid.small = not grid.is_small

    def action_toggle_method(self) -> None:
        self.method = "occlusion" if self.method == "ig" else "ig"
        if self.insight == "explain":
            self._reopen_insight(again=True)
        else:  # m did nothing outside Why, where the keys panel lists it: the method is for its next opening
            self.notify(f"Why works with {METHOD_TITLES[self.method]} now (e opens it).")

    def _reopen_insight(self, again: bool = False) -> None:
        """The open panel for the grid's digit now (``again``: even the same one, another method); closed when
        the grid has none (a filter left none)."""
        kind, current = self.insight, self.query_one(DigitGrid).current
        if kind is not None and current is None:
            self.action_close_insight()
        elif kind is not None and (again or current.index != self._insight_index):
            self.insight = None
            self.action_insight(kind)

    def action_close_insight(self) -> None:
        if self.insight is None:
            return
        self.insight = None
        self.workers.cancel_group(self, "insight")
        self.query_one(InsightPanel).display = False
        grid = self.query_one(DigitGrid)
        grid.display = True
        grid.focus()
        self._show_keys(GRID_KEYS)

    def _show_keys(self, keys: str) -> None:
        detail = self.query_one(DigitDetail)
        detail.keys = keys
        detail.refresh()

    def on_misclassified_pane_insight_ready(self, message: InsightReady) -> None:
        if self.insight is not None:
            self.query_one(InsightPanel).show(message.content)

    @work(thread=True, exclusive=True, exit_on_error=False, group="insight")
    def _compute_insight(self, kind: str, example: Any, pixels: Any) -> None:
        worker = get_current_worker()
        try:
            content = (self._explain(example, pixels) if kind == "explain"
                       else self._neighbours(example, pixels, worker))
        except Exception as exc:  # noqa: BLE001 - any failure is shown in the panel, never a crash
            content = f"Could not compute this: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        if not worker.is_cancelled:
            self.post_message(self.InsightReady(content))

    def _explain(self, example: Any, pixels: Any) -> ExplainView:
        from ...core.explain import explain_digit

        model, config, _ = self._models.get(self.checkpoint)  # predicted as the run's test did, shifts and all
        explanation = explain_digit(model, pixels, example.true_label, self.method, config.tta)
        return ExplainView(example.index, example.true_label, explanation.prediction, explanation.probabilities,
                           explanation.method, explanation.classes, explanation.maps.tolist(), pixels.tolist(),
                           explanation.tta)

    def _neighbours(self, example: Any, pixels: Any, worker: Any) -> NeighboursView | str:
        from ...core.embeddings import embed_digit

        model, config, path = self._models.get(self.checkpoint)

        def progress(done: int, total: int) -> None:
            if done < total:
                self.post_message(self.InsightReady(
                    f"Embedding the training digits for this checkpoint: {done:,} of {total:,} "
                    "(once; cached beside the checkpoint)"))

        built = self._training_neighbours.get(model, path, config.dataset, self.data_dir, progress,
                                              lambda: worker.is_cancelled)
        if built is None:
            return NO_TRAINING_SET
        index, train_images = built
        if index.alike:
            return ALIKE
        found = index.nearest(embed_digit(model, pixels), k=8)
        return NeighboursView(example.index, example.true_label, example.predicted_label, pixels.tolist(),
                              [(n.index, n.label, n.distance, train_images[n.index].tolist()) for n in found])
