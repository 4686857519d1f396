"""The Map: every test digit placed by its penultimate-layer features (PCA, or UMAP / t-SNE).

Opened from Misclassified (``M``). Arrows (shift: 5 cells) or the mouse move the cursor;
the digit nearest to it is drawn on the right with its labels and the labels of its
nearest training digits (their pictures too when the terminal is tall enough); enter
opens it in Misclassified (escape returns). ``m`` switches PCA -> UMAP -> t-SNE, the last
two only where umap-learn / openTSNE are installed; they take about a minute for 10,000
digits on a small CPU, in a thread worker, and are cached beside the checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from ..keys import QUIT_NOT_SHOWN, main_view_keys
from ..widgets.digit_art import digit_text, half_size
from ..widgets.digit_map import CLASS_COLOURS, DigitMap
from ..widgets.fit import fit_parts
from ..widgets.footer import FittingFooter
from ..widgets.insight_panel import ALIKE, NO_TRAINING_SET, SMALL

# (progress(done, total), cancelled()) -> None when the training digits' index is ready, else why not
PrepareNeighbours = Callable[[Callable[[int, int], None], Callable[[], bool]], "str | None"]
# test index -> its nearest training digits [(training index, label, distance, pixels)], nearest first
FindNeighbours = Callable[[int], "list[tuple[int, int, float, Any]]"]
METHOD_TITLES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}


@dataclass(frozen=True)
class MapData:
    xy: list[tuple[float, float]]
    labels: list[int]
    predictions: list[int]
    images: Any  # uint8 [N, 28, 28], indexed like the points
    explained: tuple[float, float]
    source: str
    method: str = "pca"
    features: Any = None  # the points' features (float16 [N, D]), to place them by another method
    cache: Callable[[str], Any] | None = None  # method -> file its coordinates are cached in
    prepare_neighbours: PrepareNeighbours | None = None
    neighbours: FindNeighbours | None = None
    layouts: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # method -> xy, this session


def test_set_map(model: Any, dataset: str, checkpoint: Any, data_dir: str | None,
                 layouts: dict[str, list[tuple[float, float]]],
                 training_index: Callable[[Callable[[int, int], None], Callable[[], bool]], Any]) -> MapData:
    """The test digits placed by ``model``'s features (PCA; their features cached beside ``checkpoint``).

    ``training_index(progress, cancel)`` gives (NeighbourIndex, training images), or None when the
    training set is not on disk; it is asked for only once the map shows a digit's neighbours.
    Raises DataUnavailable without the test set.
    """
    from ...core.data import load_mnist
    from ...core.embeddings import cache_path, cached_embeddings
    from ...core.projection import pca_2d

    data = load_mnist(data_dir, download=False, dataset=dataset, only="test")
    test = cached_embeddings(model, checkpoint, data.test_images, data.test_labels, "test")
    projection = pca_2d(test.features)
    built: dict[str, Any] = {}  # the training digits' index, once the map's worker has it

    def prepare(progress: Callable[[int, int], None], cancel: Callable[[], bool]) -> str | None:
        built["index"] = training_index(progress, cancel)
        return NO_TRAINING_SET if not built["index"] else ALIKE if built["index"][0].alike else None

    def nearest(i: int) -> list[tuple[int, int, float, Any]]:
        index, train_images = built["index"]
        return [(n.index, n.label, n.distance, train_images[n.index].tolist())
                for n in index.nearest(test.features[i], k=8)]

    return MapData([tuple(p) for p in projection.coordinates.tolist()], test.labels.tolist(),
                   test.predictions.tolist(), data.test_images, projection.explained,
                   f"{checkpoint.parent.name}/{checkpoint.name}", features=test.features,
                   cache=lambda method: cache_path(checkpoint, f"test-{method}"),
                   prepare_neighbours=prepare, neighbours=nearest, layouts=layouts)


def legend() -> Text:
    text = Text(no_wrap=True, overflow="crop")
    for label, colour in enumerate(CLASS_COLOURS):
        text.append(str(label), colour)
    text.append(" x", "bold")
    text.append(" wrong")
    return text


class MapScreen(Screen[int | None]):
    """Dismissed with the chosen digit's index, or None (escape)."""

    DEFAULT_CSS = """
    MapScreen #map-title { height: 1; }
    MapScreen #map-side { width: 31; height: 1fr; padding: 0 1; border-left: vkey $foreground 30%; }
    """
    BINDINGS = [
        QUIT_NOT_SHOWN,
        *main_view_keys(),
        Binding("escape", "dismiss_map", "Back"),
        Binding("m", "next_method", "PCA/UMAP/t-SNE"),
    ]

    class Placed(Message):
        """The points placed by ``method`` (``xy``), or why not (``error``)."""

        def __init__(self, method: str, xy: list[tuple[float, float]] | None, error: str = "") -> None:
            super().__init__()
            self.method, self.xy, self.error = method, xy, error

    class NeighboursFound(Message):
        def __init__(self, index: int, found: list[tuple[int, int, float, Any]] | str) -> None:
            super().__init__()
            self.index, self.found = index, found

    class NeighboursPrepared(Message):
        """The training digits' index is ready (``status`` "ready"), being built ("12,000 of 60,000"), or why not."""

        def __init__(self, status: str) -> None:
            super().__init__()
            self.status = status

    def __init__(self, data: MapData, start: int | None = None, listed: set[int] | None = None) -> None:
        super().__init__()
        self.data, self.start = data, start  # start: the test digit the cursor starts on
        self._only_pca_until = 0.0  # "Only PCA here" is on screen until then (m pressed again says nothing more)
        self.listed = listed  # the digits Misclassified lists (its evaluation's wrong ones); None: the map's
        self.method = data.method
        self.placing: str | None = None  # the method being worked out
        self.superseded: str | None = None  # why this map is no longer of the run loaded behind it
        self.selected: int | None = None
        self.neighbours: tuple[int, list[tuple[int, int, float, Any]] | str] | None = None
        # None: not asked yet; "ready"; otherwise progress or why there are none
        self.neighbours_status: str | None = None if data.neighbours is not None else "none"
        data.layouts.setdefault(data.method, data.xy)

    def compose(self) -> ComposeResult:
        yield Static(id="map-title")
        with Horizontal():
            yield DigitMap(id="digit-map")
            yield Static(id="map-side")
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        digit_map = self.query_one(DigitMap)
        digit_map.start = self.start
        digit_map.set_points(self.data.layouts[self.method], self.data.labels, self.data.predictions)
        digit_map.focus()
        self._show_title()

    def _show_title(self) -> None:
        wrong = sum(1 for t, p in zip(self.data.labels, self.data.predictions) if t != p)
        how = (f"PCA {self.data.explained[0]:.0%}+{self.data.explained[1]:.0%}" if self.method == "pca"
               else METHOD_TITLES[self.method])
        if self.data.explained == (0.0, 0.0):  # no variance: one cell, titled "PCA 0%+0%" (walk36 F6)
            how = "every digit alike to this network"
        busy = [(" · ", f"working out {METHOD_TITLES[self.placing]}…", 5)] if self.placing else []
        # at 80 columns a run's name cut the method and its share of the variance: the name goes first
        title = self.query_one("#map-title", Static)
        if self.superseded:  # which model this map is of matters more than its method now
            parts = [("", f"[b]Map[/] of {escape(self.data.source)}", 9),
                     (" · ", f"[yellow]{escape(self.superseded)}[/]", 8), (" ", f"({wrong:,} wrong here)", 4)]
        else:
            parts = [("", f"[b]Map[/] of {len(self.data.labels):,} test digits", 9), (" ", f"({wrong:,} wrong)", 4),
                     (" · ", escape(self.data.source), 1), (" · ", how, 9 if "alike" in how else 3), *busy]
        title.update(fit_parts(parts, title.size.width or self.size.width or 80))

    def supersede(self, why: str) -> None:
        """Another model is loaded behind this map: the title names this one's and says so."""
        self.superseded = why
        self._show_title()
        self._show_side()

    def on_resize(self) -> None:
        self._show_title()

    # -- PCA, UMAP, t-SNE ---------------------------------------------------------------------------

    def action_next_method(self) -> None:
        from ...core.projection import METHODS, method_available

        if self.placing:
            self.notify(f"Still working out the {METHOD_TITLES[self.placing]} map…")
            return
        usable = [m for m in METHODS if m == "pca" or (self.data.features is not None and method_available(m))]
        if len(usable) == 1:
            if time.monotonic() < self._only_pca_until:  # said, and still on screen: not a toast a press
                return
            self._only_pca_until = time.monotonic() + 10
            self.notify(escape("UMAP and t-SNE need umap-learn and openTSNE, not installed here: "
                               "pip install 'mnist-tui[map]' (about 400 MB with scipy, scikit-learn, numba)"),
                        title="Only PCA here", severity="warning", timeout=10)
            return
        target = usable[(usable.index(self.method) + 1) % len(usable)] if self.method in usable else "pca"
        if target in self.data.layouts:
            self._place(target, self.data.layouts[target])
            return
        self.placing = target
        self._show_title()
        self.notify(f"Working out the {METHOD_TITLES[target]} map of {len(self.data.labels):,} digits: "
                    "about a minute on a small CPU, once per checkpoint.", timeout=8)
        self._project(target)

    @work(thread=True, exclusive=True, exit_on_error=False, group="map-method")
    def _project(self, method: str) -> None:
        from ...core.projection import cached_projection

        try:
            cache = self.data.cache(method) if self.data.cache else None
            projection = cached_projection(self.data.features, method, cache)
            self.post_message(self.Placed(method, [tuple(p) for p in projection.coordinates.tolist()]))
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            self.post_message(self.Placed(method, None, f"Could not work out the {METHOD_TITLES[method]} map: {exc}"))

    def on_map_screen_placed(self, message: Placed) -> None:
        self.placing = None
        if message.xy is None:
            self._show_title()
            self.notify(message.error, severity="error")
            return
        self.data.layouts[message.method] = message.xy
        self._place(message.method, message.xy)

    def _place(self, method: str, xy: list[tuple[float, float]]) -> None:
        self.method = method
        self.query_one(DigitMap).set_points(xy, self.data.labels, self.data.predictions)
        self._show_title()

    # -- the selected digit and its nearest training digits ------------------------------------------

    def on_digit_map_selected(self, message: DigitMap.Selected) -> None:
        self.selected = message.index
        self._show_title()  # (after a resize of the map too: the keys panel narrows the title, not the screen)
        if message.index is not None:
            if self.neighbours_status is None:
                self.neighbours_status = "looking…"
                self._prepare_neighbours()
            elif self.neighbours_status == "ready":
                self._find_neighbours(message.index)
        self._show_side()

    @work(thread=True, exclusive=True, exit_on_error=False, group="map-index")
    def _prepare_neighbours(self) -> None:
        """Embed the training digits once (cached beside the checkpoint); the cursor may move meanwhile."""
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if done < total:
                self.post_message(self.NeighboursPrepared(f"embedding training digits {done * 100 // total}%"))

        try:
            why_not = self.data.prepare_neighbours(progress, lambda: worker.is_cancelled)
        except InterruptedError:
            return  # the map was closed
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            why_not = str(exc) or type(exc).__name__
        self.post_message(self.NeighboursPrepared(why_not or "ready"))

    def on_map_screen_neighbours_prepared(self, message: NeighboursPrepared) -> None:
        self.neighbours_status = message.status
        if message.status == "ready" and self.selected is not None:
            self._find_neighbours(self.selected)
        self._show_side()

    @work(thread=True, exclusive=True, exit_on_error=False, group="map-neighbours")
    def _find_neighbours(self, index: int) -> None:
        try:
            found: list[tuple[int, int, float, Any]] | str = self.data.neighbours(index)
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            found = str(exc) or type(exc).__name__
        if not get_current_worker().is_cancelled:
            self.post_message(self.NeighboursFound(index, found))

    def on_map_screen_neighbours_found(self, message: NeighboursFound) -> None:
        self.neighbours = (message.index, message.found)
        if message.index == self.selected:
            self._show_side()

    def _show_side(self) -> None:
        side = self.query_one("#map-side", Static)
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(legend())
        out.append("\n")
        i = self.selected
        if i is not None:
            label, prediction = self.data.labels[i], self.data.predictions[i]
            out.append(f"digit #{i}\n", "bold")
            out.append("true ")
            out.append(str(label), f"bold {CLASS_COLOURS[label]}")
            out.append(" pred ")
            out.append(str(prediction), f"bold {CLASS_COLOURS[prediction]}")
            out.append("  wrong\n" if label != prediction else "\n", "bold")
            for line in digit_text(self.data.images[i]):
                out.append_text(line)
                out.append("\n")
            out.append("esc, M: the loaded run's map\n" if self.superseded else  # enter opens nothing then
                       "enter: open in Misclassified\n" if self._listed(i) else "read right: not in the list\n", "dim")
            if self.neighbours is not None and self.neighbours[0] == i and self.neighbours_status == "ready":
                self._neighbours_text(out, self.neighbours[1], side.size.height - 19, side.size.width)
            elif self.neighbours_status not in (None, "none", "ready"):
                self._wrapped(out, f"nearest: {self.neighbours_status}", side.size.width)
        side.update(out)

    @staticmethod
    def _wrapped(out: Text, message: str, width: int) -> None:
        import textwrap

        out.append("\n".join(textwrap.wrap(message, max(10, width))), "italic")

    def _neighbours_text(self, out: Text, found: list[tuple[int, int, float, Any]] | str, room: int,
                         width: int) -> None:
        """One line of the nearest training digits' labels; their pictures, two a row, where rows are left."""
        if isinstance(found, str):
            self._wrapped(out, f"nearest: {found}", width)
            return
        out.append("nearest:")
        for _, label, _, _ in found:
            out.append(" ")
            out.append(str(label), f"bold {CLASS_COLOURS[label]}")
        pairs = [found[k:k + 2] for k in range(0, len(found), 2)]
        for pair in pairs[:max(0, (room - 1) // 8)]:  # a caption line and 7 rows a pair
            out.append("\n" + "".join(f"{label} #{index}"[:SMALL].ljust(SMALL) for index, label, _, _ in pair))
            arts = [digit_text(half_size(pixels)) for _, _, _, pixels in pair]
            for row in range(len(arts[0])):
                out.append("\n")
                for art in arts:
                    out.append_text(art[row])

    def on_digit_map_chosen(self, message: DigitMap.Chosen) -> None:
        i = message.index
        if self.superseded:  # it closed the map, and Misclassified then said that enter did nothing
            self.notify(f"This map is of another run ({self.superseded}): esc, then M maps that one.",
                        severity="warning")
            return
        if i is not None and not self._listed(i):  # it said "enter: show it", then closed the map on a list
            # without it: the digit is on the side already, and the map stays
            self.notify(f"Test digit #{i} is read right: Misclassified lists only the wrong ones.")
            return
        self.dismiss(i)

    def _listed(self, i: int) -> bool:
        return i in self.listed if self.listed is not None else self.data.labels[i] != self.data.predictions[i]

    def action_dismiss_map(self) -> None:
        self.dismiss(None)
