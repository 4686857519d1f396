"""Pilot tests at 80x24: the Misclassified pane's label-error badge and filter, and its explain and
nearest-digit panels, on the synthetic data with a tiny real run (the pane hosted in a small app)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from mnist_tui.tui.panes.misclassified import MisclassifiedPane
from mnist_tui.tui.widgets.fit import fit_parts
from mnist_tui.tui.widgets.digit_grid import DigitDetail, DigitGrid
from mnist_tui.tui.widgets.insight_panel import ExplainView, InsightPanel, NeighboursView
from tests.tui.workers import workers_done

SIZE = (80, 24)


class PaneApp(App):
    def compose(self) -> ComposeResult:
        yield MisclassifiedPane()


@pytest.fixture(scope="module")
def run_and_evaluation(synthetic_data, tmp_path_factory):
    """A tiny run, and its test evaluation with one confidently read digit's label flipped."""
    import torch

    from mnist_tui.core.analysis import predict_probabilities, summarize
    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
    from tests.core.tiny_runs import train_tiny_run

    run = train_tiny_run(synthetic_data, tmp_path_factory.mktemp("runs"), "tiny")
    model = model_from_checkpoint(load_checkpoint(run / "best.pt"))[0]
    probabilities = predict_probabilities(model, synthetic_data.test_images)
    labels = synthetic_data.test_labels.clone()
    flipped = int(probabilities[torch.arange(len(labels)), labels].argmax())
    labels[flipped] = (int(labels[flipped]) + 5) % 10
    return run, summarize(probabilities, labels), flipped


async def _open(pilot, run_and_evaluation, synthetic_data, synthetic_root, checkpoint=True):
    run, evaluation, flipped = run_and_evaluation
    pane = pilot.app.query_one(MisclassifiedPane)
    pane.checkpoint = str(run / "best.pt") if checkpoint else None
    pane.data_dir = str(synthetic_root)
    pane.set_evaluation(evaluation, synthetic_data.test_images)
    await pilot.pause()
    return pane, flipped


async def _select(pilot, pane, index):
    grid = pane.query_one(DigitGrid)
    grid.selected = [m.index for m in pane.examples].index(index)
    await pilot.pause()


async def _press(pilot, *keys):
    """Press each key and wait for the work it started (an attribution map is computed in a worker)."""
    for key in keys:
        await pilot.press(key)
        await workers_done(pilot.app)
        await pilot.pause()


async def test_badge_filter_and_suggested_label(run_and_evaluation, synthetic_data, synthetic_root):
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, flipped = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        assert flipped in pane.label_issues and flipped in pane.query_one(DigitGrid).flagged
        await pilot.press("l")
        assert pane.examples and all(m.index in pane.label_issues for m in pane.examples)
        bar = pane.query_one("#wrong-bar")
        assert f"⚑ {len(pane.label_issues)} only (l)" in str(bar.render())
        assert bar.render_lines(bar.region.reset_offset)[0].text.rstrip().endswith("only (l)")  # fits 80 columns
        await _select(pilot, pane, flipped)
        await pilot.press("z")  # large cards, whose flag says "label?"
        assert "⚑label?" in str(pane.query_one(DigitGrid).render())
        detail = str(pane.query_one(DigitDetail).render())
        true_label = int(synthetic_data.test_labels[flipped])
        assert "label looks wrong" in detail and f"model says {true_label}" in detail
        await pilot.press("s")  # by index: the flagged digit, the most confident of all, is no longer first
        await pilot.press("l")  # all again, still on the flagged digit (it went back to the first)
        grid = pane.query_one(DigitGrid)
        assert len(pane.examples) == pane.total_wrong and grid.current.index == flipped
        assert grid.selected > 0 and f"at {grid.selected + 1}" in str(bar.render())
        await pilot.press("c")
        assert len(pane.examples) == pane.total_wrong


async def test_sorting_stays_on_the_digit_looked_at(run_and_evaluation, synthetic_data, synthetic_root):
    """s (confidence or index) went back to the first digit: the one being looked at was lost in the list."""
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        grid = pane.query_one(DigitGrid)
        assert len(pane.examples) > 1
        await pilot.press("right")
        looked_at = grid.current.index
        for _ in range(2):  # by index, then by confidence again
            await pilot.press("s")
            assert grid.current.index == looked_at, pane.sort_by
            assert f"at {grid.selected + 1}" in str(pane.query_one("#wrong-bar").render())


async def test_explain_panel_shows_both_maps_and_switches_method(run_and_evaluation, synthetic_data, synthetic_root):
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, flipped = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await _select(pilot, pane, flipped)
        await _press(pilot, "e")
        panel = pane.query_one(InsightPanel)
        assert panel.display and not pane.query_one(DigitGrid).display
        view = panel.content
        assert isinstance(view, ExplainView) and view.method == "occlusion" and view.index == flipped
        assert len(view.maps) == 2 and len(view.maps[0]) == 28 and len(view.maps[0][0]) == 28
        assert view.classes == [view.prediction, view.label]
        text = str(panel.render())
        assert "predicted" in text and "towards the class" in text
        lines = [line.text.rstrip() for line in panel.render_lines(panel.region.reset_offset)]
        legend = next(line for line in lines if "towards the class" in line)  # it ran into the border (walk33 F5)
        assert len(legend) < panel.size.width, (legend, panel.size.width)
        from mnist_tui.core.formatting import short_percent  # one rounding with the detail's ">99.9%" (walk22 F8)
        assert f"predicted {view.prediction} ({short_percent(view.probabilities[view.prediction])})" in text
        await _press(pilot, "m")
        assert panel.content.method == "ig"
        header = panel.render_lines(panel.region.reset_offset)[0].text.rstrip()
        assert header.endswith("· m method · e back") and len(header) <= panel.size.width
        await pilot.press("e")  # back to the grid
        assert not panel.display and pane.query_one(DigitGrid).display
        # outside Why, m (which the keys panel lists there) did nothing: it picks the method for the next opening
        await _press(pilot, "m")
        assert any(str(n.message) == "Why works with occlusion now (e opens it)." for n in pilot.app._notifications)
        await _press(pilot, "e")
        assert panel.content.method == "occlusion"


async def test_arrows_move_to_the_next_digit_while_why_or_nearest_is_open(run_and_evaluation, synthetic_data,
                                                                         synthetic_root):
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        order = [m.index for m in pane.examples]
        assert len(order) == 2, order  # the tiny run reads two test digits wrong
        panel, detail = pane.query_one(InsightPanel), pane.query_one(DigitDetail)
        await _press(pilot, "e")
        assert panel.content.index == order[0] and "←→ digit esc back" in str(detail.render())
        await _press(pilot, "right")
        assert isinstance(panel.content, ExplainView) and panel.content.index == order[1] and panel.display
        assert f"digit #{order[1]}" in str(detail.render())
        await _press(pilot, "right")  # nothing after the last one
        assert panel.content.index == order[1]
        await _press(pilot, "left")
        assert panel.content.index == order[0]
        await _press(pilot, "e", "n", "right")  # Nearest follows the arrows too
        assert isinstance(panel.content, NeighboursView) and panel.content.index == order[1]
        for key, shown in (("up", 0), ("down", 1), ("home", 0), ("end", 1)):  # as in the grid: they did nothing
            await _press(pilot, key)
            assert panel.content.index == order[shown], key
        await _press(pilot, "escape")
        assert pane.query_one(DigitGrid).selected == 1 and "e why n near M map" in str(detail.render())


async def test_an_open_panel_follows_the_digit_a_filter_leaves_or_closes_when_none_is_left(
        run_and_evaluation, synthetic_data, synthetic_root):
    # t with the Why panel open kept the maps of a digit the filter had taken out of the list
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        panel, grid = pane.query_one(InsightPanel), pane.query_one(DigitGrid)
        await _press(pilot, "e")
        seen = {"open": 0, "closed": 0}
        for _ in range(11):  # any, 0, 1 ... 9: each true label in turn
            await _press(pilot, "t")
            if pane.true_label is not None and not pane.examples and not panel.display:
                seen["closed"] += 1
                assert grid.display
                await _press(pilot, "e")  # nothing to explain: it says so and stays on the grid
                assert not panel.display
            elif pane.examples:
                if not panel.display:
                    await _press(pilot, "e")  # opened again after a filter that left nothing
                seen["open"] += 1
                assert panel.display and panel.content.index == grid.current.index
            else:
                raise AssertionError(f"true {pane.true_label}: no digit listed, yet the panel is still open")
        assert seen["open"] >= 2 and seen["closed"] >= 1


async def test_explain_header_fits_80_columns_after_the_method_switch(run_and_evaluation, synthetic_data,
                                                                     synthetic_root):
    """m to integrated gradients on a digit with a real test-set number (#1901; the synthetic set has 200):
    the header still ends with its keys at 80 columns (it was cut to '· e ba')."""
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, flipped = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await _select(pilot, pane, flipped)
        await _press(pilot, "e", "m")
        panel = pane.query_one(InsightPanel)
        panel.show(dataclasses.replace(panel.content, index=1901, label=9, prediction=4))
        await pilot.pause()
        header = panel.render_lines(panel.region.reset_offset)[0].text.rstrip()
        assert header.startswith("#1901 label 9 → 4 · ") and header.endswith(" · m method · e back")
        assert len(header) <= panel.size.width
        # a TTA run's: "#9729 label 5 → 6 TTA · int. gradients · m method · e back" ran into the border (walk32 F7)
        panel.show(dataclasses.replace(panel.content, index=9729, label=5, prediction=6, tta=True))
        await pilot.pause()
        tta_header = panel.render_lines(panel.region.reset_offset)[0].text.rstrip()
        width = panel.size.width
    assert tta_header == "#9729 5 → 6 TTA · int. gradients · m method · e back", tta_header
    assert len(tta_header) < width


async def test_nearest_training_digits_panel(run_and_evaluation, synthetic_data, synthetic_root):
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, flipped = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await _select(pilot, pane, flipped)
        await pilot.press("n")
        await workers_done(pilot.app)
        await pilot.pause()
        view = pane.query_one(InsightPanel).content
        assert isinstance(view, NeighboursView), view
        assert len(view.neighbours) == 8
        # the flipped digit's neighbours carry its real label, not the flipped one
        assert all(label == int(synthetic_data.test_labels[flipped]) for _, label, _, _ in view.neighbours)
        assert list(run_and_evaluation[0].glob("embeddings-best-train.pt"))
        # at 80x24 the digit itself gave way to the eighth neighbour: nothing on screen showed what was compared
        panel = pane.query_one(InsightPanel)
        shown = "\n".join(line.text for line in panel.render_lines(panel.region.reset_offset))
        assert "this digit" in shown and len(re.findall(r"\d d\d+\.\d #\d+", shown)) == 7, shown  # seven neighbours
        # which it said nowhere, nor what a caption's "2 d3.3 #35112" was
        assert shown.splitlines()[0].startswith(f"#{flipped} label ") and "· 7 of the 8 nearest training digits" \
            in shown.splitlines()[0], shown
        assert "caption: label, d distance, #index in the training set" in shown, shown
        await pilot.press("escape")
        assert not pane.query_one(InsightPanel).display


async def test_without_checkpoint_or_training_data_it_says_why(run_and_evaluation, synthetic_data, synthetic_root,
                                                              tmp_path):
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root, checkpoint=False)
        await pilot.press("e")
        await pilot.pause()
        assert not pane.query_one(InsightPanel).display  # a notification instead
        pane.checkpoint = str(run_and_evaluation[0] / "last.pt")
        pane.data_dir = str(tmp_path / "no-data")
        await pilot.press("n")
        await workers_done(pilot.app)
        await pilot.pause()
        panel = pane.query_one(InsightPanel)
        assert "training set, which is not on disk" in panel.content
        # the whole message is on screen, wrapped to the panel (the panel never wraps its art)
        shown = " ".join(strip.text.strip() for strip in panel.render_lines(panel.region.reset_offset))
        assert "start the app with --data-dir (or MNIST_TUI_DATA) pointing at it." in " ".join(shown.split())


async def test_a_saved_evaluation_gets_its_badges_from_the_whole_test_set(run_and_evaluation, synthetic_data,
                                                                         synthetic_root, tmp_path):
    import shutil

    from mnist_tui.core.analysis import save_evaluation, saved_evaluation

    run, evaluation, flipped = run_and_evaluation
    # the dataset on disk carries the flipped label too, as a real label error would be
    data_root = tmp_path / "data"
    shutil.copytree(synthetic_root, data_root)
    labels_file = data_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    raw = bytearray(labels_file.read_bytes())
    raw[8 + flipped] = int(evaluation.labels[flipped])
    labels_file.write_bytes(bytes(raw))
    save_evaluation(tmp_path, evaluation, synthetic_data.test_images, "best.pt")
    saved, images = saved_evaluation(tmp_path)  # only the wrong digits, as the app shows a finished run
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane = pilot.app.query_one(MisclassifiedPane)
        pane.set_evaluation(saved, images)
        assert pane.label_issues is None  # not guessed from placeholders
        pane.set_checkpoint(str(run / "best.pt"), str(data_root))
        await workers_done(pilot.app)
        await pilot.pause()
        assert pane.label_issues is not None and flipped in pane.label_issues
        assert flipped in pane.query_one(DigitGrid).flagged
        assert list(run.glob("embeddings-best-test.pt"))


async def test_map_view_selects_a_wrong_digit_and_opens_it(run_and_evaluation, synthetic_data, synthetic_root):
    from mnist_tui.tui.screens.map import MapScreen
    from mnist_tui.tui.widgets.digit_map import DigitMap

    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, flipped = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await pilot.press("M")
        await workers_done(pilot.app)
        await pilot.pause()
        assert isinstance(pilot.app.screen, MapScreen)
        digit_map = pilot.app.screen.query_one(DigitMap)
        assert len(digit_map.xy) == 200 and digit_map.size.width >= 40
        await pilot.press("right", "down")
        assert digit_map.selected is not None
        assert f"digit #{digit_map.selected}" in str(pilot.app.screen.query_one("#map-side").render())
        # the map's own predictions (real labels) disagree on some digits: put the cursor on one
        wrong = next(i for i, (t, p) in enumerate(zip(digit_map.labels, digit_map.predictions)) if t != p)
        digit_map.cursor = digit_map._to_cell(*digit_map.xy[wrong])
        await pilot.pause()
        assert digit_map.labels[digit_map.selected] != digit_map.predictions[digit_map.selected]
        chosen = digit_map.selected
        assert "x" in str(digit_map.render())
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, MapScreen)
        current = pane.query_one(DigitGrid).current
        assert current is not None and current.index == chosen
        await pilot.press("M")
        await workers_done(pilot.app)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, MapScreen)


def made_up_map(synthetic_data, source: str = "made up"):
    """A MapScreen of 60 test digits on a 10x6 grid, every 7th read wrong, and a host app that shows it."""
    from textual.app import App

    from mnist_tui.tui.screens.map import MapData, MapScreen

    labels = [int(t) for t in synthetic_data.test_labels[:60]]
    predictions = [(t + 1) % 10 if i % 7 == 3 else t for i, t in enumerate(labels)]
    xy = [(float(i % 10), float(i // 10)) for i in range(60)]
    screen = MapScreen(MapData(xy, labels, predictions, synthetic_data.test_images[:60], (0.2, 0.1), source))

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(screen)

    return screen, Host()


async def test_x_on_the_map_walks_the_wrong_digits(synthetic_data):
    """Arrowing about the map landed on digits read right nearly every time: x goes to the next one read wrong."""
    from mnist_tui.tui.widgets.digit_map import DigitMap
    from tests.tui.terminal import TerminalMirror

    screen, host = made_up_map(synthetic_data)
    xy, labels, predictions = screen.data.xy, screen.data.labels, screen.data.predictions
    terminal = TerminalMirror(host, SIZE)
    async with host.run_test(size=SIZE) as pilot:
        await pilot.pause()
        digit_map = screen.query_one(DigitMap)
        wrong_cells = sorted({digit_map._to_cell(*xy[i]) for i in range(60) if labels[i] != predictions[i]},
                             key=lambda cell: (cell[1], cell[0]))
        assert len(wrong_cells) == 9
        digit_map.cursor = (0, 0)
        await pilot.pause()
        visited = []
        for _ in range(len(wrong_cells) + 1):
            await pilot.press("x")
            assert labels[digit_map.selected] != predictions[digit_map.selected]
            visited.append(digit_map.cursor)
        assert visited == wrong_cells + wrong_cells[:1]  # in reading order, and round again
        await pilot.press("X")
        assert digit_map.cursor == wrong_cells[-1]
        assert "x Next wrong" in terminal.lines()[-1]  # the footer says so


async def test_the_map_keeps_its_digit_when_it_is_resized(synthetic_data):
    """Opening the keys panel (?) narrows the map: the cursor kept its cell, which then held another digit."""
    from mnist_tui.tui.widgets.digit_map import DigitMap

    screen, host = made_up_map(synthetic_data)
    async with host.run_test(size=SIZE) as pilot:
        await pilot.pause()
        digit_map = screen.query_one(DigitMap)
        for _ in range(4):
            await pilot.press("x")  # a wrong digit away from the map's left edge
        chosen = digit_map.selected
        for size in ((50, 24), (80, 24), (64, 18)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert digit_map.selected == chosen, size
            assert f"digit #{chosen}" in str(screen.query_one("#map-side").render())


async def test_the_map_title_keeps_the_method_at_80_columns(synthetic_data):
    """A run's name as long as a default one cut "PCA 17%+15%" at 80 columns."""
    screen, host = made_up_map(synthetic_data, "fastcnn-20261204-225049/last.pt")
    async with host.run_test(size=SIZE) as pilot:
        await pilot.pause()
        title = screen.query_one("#map-title").render_line(0).text.rstrip()
        assert title == "Map of 60 test digits (9 wrong) · fastcnn-20261204-225049/last.pt · PCA 20%+10%", title
        await pilot.resize_terminal(70, 24)
        await pilot.pause()
        title = screen.query_one("#map-title").render_line(0).text.rstrip()
        assert title == "Map of 60 test digits (9 wrong) · PCA 20%+10%", title
        await pilot.resize_terminal(*SIZE)
        host.action_show_help_panel()  # the keys panel narrows the title, not the screen
        await pilot.pause()
        await pilot.pause()
        title = screen.query_one("#map-title").render_line(0).text.rstrip()
        assert title == "Map of 60 test digits (9 wrong) · PCA 20%+10%", title


async def test_the_map_says_it_is_working_only_when_it_has_the_test_digits_to_embed(
        run_and_evaluation, synthetic_data, synthetic_root):
    # "Working out the map of the test digits…" came each time, and stayed over a map that opened at once
    from mnist_tui.tui.screens.map import MapScreen

    run = run_and_evaluation[0]
    for cached in run.glob("embeddings-best-test*.pt"):
        cached.unlink()

    def working() -> int:
        return sum("Working out the map" in str(n.message) for n in pilot.app._notifications)

    async with PaneApp().run_test(size=SIZE) as pilot:
        await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await _press(pilot, "M")
        assert isinstance(pilot.app.screen, MapScreen) and working() == 1
        await _press(pilot, "escape")
        await _press(pilot, "M")  # the test digits' features are cached beside the checkpoint now
        assert isinstance(pilot.app.screen, MapScreen) and working() == 1


async def test_enter_on_a_digit_read_right_keeps_the_map_and_the_filters(run_and_evaluation, synthetic_data,
                                                                         synthetic_root):
    """It cleared them ("true any") before saying the digit is not in the list; then, with the filters kept,
    the side said "enter: show it" and enter closed the map on a list without the digit."""
    from mnist_tui.tui.screens.map import MapScreen
    from mnist_tui.tui.widgets.digit_map import DigitMap

    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await _press(pilot, "t", "t")  # true 1
        shown = [m.index for m in pane.examples]
        await _press(pilot, "M")
        digit_map = pilot.app.screen.query_one(DigitMap)
        wrong = {m.index for m in pane.examples} | {i for i, (t, p) in enumerate(zip(digit_map.labels,
                                                                                     digit_map.predictions)) if t != p}
        right = next(i for i in range(len(digit_map.xy)) if i not in wrong
                     and digit_map._to_cell(*digit_map.xy[i]) not in {digit_map._to_cell(*digit_map.xy[w]) for w in wrong})
        digit_map.cursor = digit_map._to_cell(*digit_map.xy[right])
        await pilot.pause()
        side = str(pilot.app.screen.query_one("#map-side").render())
        assert f"digit #{right}" in side and "read right: not in the list" in side and "enter" not in side
        await _press(pilot, "enter")
        assert isinstance(pilot.app.screen, MapScreen) and digit_map.cursor == digit_map._to_cell(*digit_map.xy[right])
        assert any(f"Test digit #{right} is read right: Misclassified lists only the wrong ones." == str(n.message)
                   for n in pilot.app._notifications)
        await _press(pilot, "escape")
        assert not isinstance(pilot.app.screen, MapScreen)
        assert pane.true_label == 1 and [m.index for m in pane.examples] == shown


async def _open_map(pilot, run_and_evaluation, synthetic_data, synthetic_root):
    from mnist_tui.tui.screens.map import MapScreen

    await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
    await pilot.press("M")
    await workers_done(pilot.app)
    await pilot.pause()
    assert isinstance(pilot.app.screen, MapScreen)
    return pilot.app.screen


async def _settle(pilot) -> None:
    for _ in range(3):  # the index is built, then the lookup runs, then its message lands
        await workers_done(pilot.app)
        await pilot.pause()


@pytest.mark.parametrize("size", [SIZE, (100, 44)])
async def test_map_cursor_shows_the_digits_nearest_training_digits(run_and_evaluation, synthetic_data,
                                                                    synthetic_root, size):
    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
    from mnist_tui.core.embeddings import NeighbourIndex, cached_embeddings
    from mnist_tui.tui.widgets.digit_map import DigitMap

    async with PaneApp().run_test(size=size) as pilot:
        screen = await _open_map(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await pilot.press("right", "down")
        await _settle(pilot)
        selected = screen.query_one(DigitMap).selected
        assert selected is not None and screen.neighbours is not None and screen.neighbours[0] == selected
        found = screen.neighbours[1]
        # the training digits nearest in the network's feature space, nearest first
        run = run_and_evaluation[0]
        model = model_from_checkpoint(load_checkpoint(run / "best.pt"))[0]
        train = cached_embeddings(model, run / "best.pt", synthetic_data.train_images, synthetic_data.train_labels,
                                  "train")
        test = cached_embeddings(model, run / "best.pt", synthetic_data.test_images, synthetic_data.test_labels, "test")
        expected = NeighbourIndex(train).nearest(test.features[selected], k=8)
        assert [index for index, _, _, _ in found] == [n.index for n in expected]
        side = screen.query_one("#map-side")
        lines = str(side.render()).splitlines()
        assert f"digit #{selected}" in lines[1]
        assert "nearest: " + " ".join(str(label) for _, label, _, _ in found) in lines
        assert all(len(line) <= side.content_region.width for line in lines)
        pictures = [line for line in lines if line.startswith(f"{found[0][1]} #{found[0][0]}")]
        assert bool(pictures) == (size[1] >= 44), lines  # their pictures where the terminal is tall enough
        # the cursor moves on: the neighbours follow
        await pilot.press(*["left"] * 6)
        await _settle(pilot)
        moved = screen.query_one(DigitMap).selected
        assert screen.neighbours[0] == moved
        assert f"digit #{moved}" in str(side.render())


async def test_map_method_key_says_what_to_install_or_switches(run_and_evaluation, synthetic_data, synthetic_root):
    from mnist_tui.core.projection import METHODS, method_available
    from mnist_tui.tui.widgets.digit_map import DigitMap

    async with PaneApp().run_test(size=SIZE) as pilot:
        screen = await _open_map(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        assert "PCA" in str(screen.query_one("#map-title").render())
        await pilot.press("m")
        await _settle(pilot)
        optional = [m for m in METHODS if m != "pca" and method_available(m)]
        if not optional:
            assert screen.method == "pca"
            from rich.text import Text

            messages = [Text.from_markup(n.message).plain for n in pilot.app._notifications]  # as shown
            assert any("umap-learn and openTSNE" in m and "pip install 'mnist-tui[map]'" in m for m in messages)
            return
        assert screen.method == optional[0]
        title = str(screen.query_one("#map-title").render())
        assert {"umap": "UMAP", "tsne": "t-SNE"}[optional[0]] in title and "working out" not in title
        assert len(screen.query_one(DigitMap).xy) == 200
        assert list(run_and_evaluation[0].glob(f"embeddings-best-test-{optional[0]}.pt"))


async def test_t_and_p_cycle_past_the_class_the_other_filter_holds(run_and_evaluation, synthetic_data,
                                                                  synthetic_root):
    """true 0 and pred 0 is no error, so that filter was always empty: p goes from any to 1."""
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await _press(pilot, "t")
        assert (pane.true_label, pane.predicted_label) == (0, None)
        await _press(pilot, "p")
        assert (pane.true_label, pane.predicted_label) == (0, 1)
        await _press(pilot, "P", "P")  # backwards: any, then 9
        assert pane.predicted_label == 9
        await _press(pilot, "T", "T")  # true: any, then 8 (9 is the predicted class)
        assert (pane.true_label, pane.predicted_label) == (8, 9)
        assert "true 8 · pred 9" in str(pane.query_one("#wrong-bar").render())


async def test_the_bar_keeps_the_filter_state_when_most_digits_are_wrong(synthetic_data):
    """A weak model's 180-odd wrong digits: with the cursor on the last and the l filter on,
    the bar still says the filter is on and its key; the cursor's position makes room for them."""
    import torch

    from mnist_tui.core.analysis import summarize

    labels = torch.cat([synthetic_data.test_labels] * 2)  # 400 digits, 55% read right (under half flags none)
    logits = torch.randn(len(labels), 10, generator=torch.Generator().manual_seed(0))
    logits[torch.arange(220), labels[:220]] += 3
    evaluation = summarize(torch.softmax(logits * 3, dim=1), labels)
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane = pilot.app.query_one(MisclassifiedPane)
        pane.set_evaluation(evaluation, torch.cat([synthetic_data.test_images] * 2))
        await pilot.pause()
        assert pane.total_wrong >= 100 and pane.label_issues
        bar = pane.query_one("#wrong-bar")
        await pilot.press("end")
        line = bar.render_lines(bar.region.reset_offset)[0].text.rstrip()
        assert line.endswith(f"⚑ {len(pane.label_issues)} (l)"), line  # the filter's key before the position
        await pilot.press("l")
        await pilot.press("end")
        line = bar.render_lines(bar.region.reset_offset)[0].text.rstrip()
        assert line.endswith(f"⚑ {len(pane.label_issues)} only (l)"), line  # the filter's state is never cut
        assert f"{len(pane.examples)} of {pane.total_wrong} wrong" in line


async def test_a_results_cell_or_another_model_shows_every_digit_not_only_the_suspected_labels(
        run_and_evaluation, synthetic_data, synthetic_root):
    # with l on, enter on a cell reading 22 showed "1 of 317", and l stayed on for the next model
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, flipped = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        everything = list(pane.examples)
        await _press(pilot, "l")
        assert pane.label_errors_only and len(pane.examples) < len(everything)
        other = next(m for m in everything if m.index not in pane.label_issues)
        pane.set_filter(other.true_label, other.predicted_label)  # what enter on a Results cell does
        await pilot.pause()
        pair = [m for m in everything if (m.true_label, m.predicted_label) == (other.true_label, other.predicted_label)]
        assert pane.examples == pair and "only" not in str(pane.query_one("#wrong-bar").render())
        await _press(pilot, "c", "l")
        _, evaluation, _ = run_and_evaluation
        pane.set_evaluation(evaluation, synthetic_data.test_images)  # another model loaded
        assert not pane.label_errors_only and len(pane.examples) == len(everything)


async def test_the_map_opens_on_the_digit_being_looked_at(run_and_evaluation, synthetic_data, synthetic_root):
    """M put the cursor on whatever digit lay mid-map (one read right: enter then said it is not in the list)."""
    from mnist_tui.tui.screens.map import MapScreen
    from mnist_tui.tui.widgets.digit_map import DigitMap

    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        for position in range(len(pane.examples)):
            pane.query_one(DigitGrid).selected = position
            await pilot.pause()
            looked_at = pane.query_one(DigitGrid).current.index
            await _press(pilot, "M")
            assert isinstance(pilot.app.screen, MapScreen)
            assert pilot.app.screen.query_one(DigitMap).selected == looked_at
            await _press(pilot, "enter")  # shows it: the same digit, still selected in the list
            assert not isinstance(pilot.app.screen, MapScreen) and pane.query_one(DigitGrid).current.index == looked_at


async def test_a_map_left_open_when_another_run_is_loaded_says_so(run_and_evaluation, synthetic_data, synthetic_root,
                                                                 tmp_path):
    """A run finished behind the map: the map kept the old model's wrong digits, named no run at 80 columns, and
    enter said its "wrong" digit was "read right"."""
    from mnist_tui.tui.widgets.digit_map import DigitMap

    async with PaneApp().run_test(size=SIZE) as pilot:
        screen = await _open_map(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        title = screen.query_one("#map-title")
        run = run_and_evaluation[0]
        assert "loaded now" not in str(title.render())
        pane = pilot.app.query_one(MisclassifiedPane)
        pane.set_checkpoint(tmp_path / "newer" / "best.pt", synthetic_root)  # another run's results arrive
        await pilot.pause()
        shown = str(title.render())
        assert shown.startswith(f"Map of {run.name}/best.pt · newer is loaded now"), shown
        digit_map = screen.query_one(DigitMap)
        wrong = next(i for i, (t, p) in enumerate(zip(digit_map.labels, digit_map.predictions)) if t != p)
        digit_map.cursor = digit_map._to_cell(*digit_map.xy[wrong])
        await pilot.pause()
        side = str(screen.query_one("#map-side").render())  # it said "enter: open in Misclassified" (walk24 7)
        assert "esc, M: the loaded run's map" in side and "enter" not in side, side
        await pilot.press("enter")  # it closed the map, then said it opened nothing
        await pilot.pause()
        said = [str(n.message) for n in pilot.app._notifications]
        assert pilot.app.screen is screen
        assert said[-1] == "This map is of another run (newer is loaded now): esc, then M maps that one.", said


async def test_small_digits_where_large_ones_fit_one_row_and_z_switches(run_and_evaluation, synthetic_data,
                                                                       synthetic_root):
    """At 80x24 a page held two digits (28x14 each) over a half-empty pane, 80 wrong digits 40 pages, until z; and
    large was still the default there, one row over eight blank lines (walk36 F8). A taller terminal keeps them."""
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, flipped = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        grid = pane.query_one(DigitGrid)
        grid.focus()
        await pilot.pause()
        small = grid.layout_counts()
        shown = [line.text for line in grid.render_lines(grid.region.reset_offset)]
        captions = [m.group() for line in shown for m in re.finditer(r"#\d+ \d→\d", line)]
        assert len(captions) == min(small[0] * small[1], len(pane.examples)), shown  # (the tiny run has 2)
        assert small[1] >= 2 and "⚑label?" not in "".join(shown)  # small cards: the flag alone
        await pilot.press("pagedown")  # a page is the small page
        assert grid.selected == min(small[0] * small[1], len(pane.examples) - 1)
        await pilot.press("z")
        large = grid.layout_counts()
        assert small[0] * small[1] >= 3 * large[0] * large[1], (large, small)
        await pilot.resize_terminal(80, 40)  # z chose large: it stays, at any height
        await pilot.pause()
        assert grid.layout_counts()[1] == 2 and not grid.is_small
    async with PaneApp().run_test(size=(80, 40)) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        grid = pane.query_one(DigitGrid)
        assert grid.layout_counts()[1] == 2 and not grid.is_small  # two rows of large digits fit
        await pilot.press("z")
        assert grid.is_small


async def test_the_place_in_a_long_list_stays_in_the_bar(run_and_evaluation, synthetic_data, synthetic_root):
    """With 216 wrong and 17 flags "at N" was the first part dropped at 80 columns: no way to see where one was
    (walk20 F8)."""
    import torch

    from mnist_tui.core.analysis import summarize

    run, evaluation, flipped = run_and_evaluation
    generator = torch.Generator().manual_seed(0)
    probabilities = torch.rand(len(synthetic_data.test_labels), 10, generator=generator).softmax(1)
    many_wrong = summarize(probabilities, synthetic_data.test_labels)
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, (run, many_wrong, flipped), synthetic_data, synthetic_root)
        await workers_done(pilot.app)
        await pilot.pause()
        pane.label_issues = {m.index: None for m in pane.examples[:17]}  # as many flags as walk20 saw
        pane.total_wrong = 216
        await pilot.press("right", "right")
        listed = list(pane.examples)
        for shown in (len(listed), 216):  # some filtered out, or all shown
            pane.examples = (listed * 2)[:shown]
            text = Text.from_markup(fit_parts(pane.bar_parts(), 78)).plain  # the bar's width in the app
            assert " · at 3" in text and "⚑ 17" in text, text


async def test_another_runs_digits_open_at_the_first(run_and_evaluation, synthetic_data, synthetic_root):
    """After a new run, Misclassified opened at "at 174" of 338: the old run's digit, kept by its test index."""
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await pilot.press("right", "right")
        grid = pane.query_one(DigitGrid)
        assert grid.selected > 0
        pane.set_evaluation(run_and_evaluation[1], synthetic_data.test_images)  # as another run's arrives
        await pilot.pause()
        assert grid.selected == 0 and " · at 1" in str(pane.query_one("#wrong-bar").render())


async def test_m_without_umap_says_only_pca_once_not_a_toast_a_press(synthetic_data, monkeypatch):
    """Each m stacked another "Only PCA here" toast over the map, its title and the digit (walk24 6)."""
    import mnist_tui.core.projection as projection

    monkeypatch.setattr(projection, "method_available", lambda method: method == "pca")  # as without the extra
    screen, host = made_up_map(synthetic_data)
    async with host.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(3):
            await pilot.press("m")
        said = [n for n in host._notifications if "UMAP and t-SNE need" in str(n.message)]
        assert len(said) == 1, said


async def test_e_on_an_empty_filter_and_l_without_the_test_set_say_why(run_and_evaluation, synthetic_data,
                                                                      synthetic_root, tmp_path):
    """e and n on a filter that left no digit said "Select a misclassified digit first"; without the test set,
    l hid every digit behind an empty "label errors only" filter (walk24 8, 9)."""
    from mnist_tui.core.analysis import save_evaluation, saved_evaluation

    run, evaluation, _ = run_and_evaluation
    save_evaluation(tmp_path, evaluation, synthetic_data.test_images, "best.pt")
    saved, images = saved_evaluation(tmp_path)  # only the wrong digits: the labels need the whole test set
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane = pilot.app.query_one(MisclassifiedPane)
        pane.set_evaluation(saved, images)
        pane.set_checkpoint(str(run / "best.pt"), str(tmp_path / "no-data"))
        await workers_done(pilot.app)
        await pilot.pause()
        shown = len(pane.examples)
        await pilot.press("l")
        await pilot.pause()
        said = [str(n.message) for n in pilot.app._notifications]
        assert not pane.label_errors_only and len(pane.examples) == shown > 0
        assert said[-1].startswith("Suspected label errors need the whole test set, which is not on disk"), said
        pairs = {(m.true_label, m.predicted_label) for m in pane.examples}
        pane.set_filter(*next((t, p) for t in range(10) for p in range(10) if t != p and (t, p) not in pairs))
        await pilot.pause()
        assert pane.examples == []
        await pilot.press("e")
        await pilot.pause()
        assert str(list(pilot.app._notifications)[-1].message) == "No digit matches this filter: c clears it."


async def test_l_on_a_model_near_chance_says_why_no_label_is_flagged(synthetic_data):
    """An untrained model flags no label (it disputed nearly all): l said nothing and showed an empty list."""
    import torch

    from mnist_tui.core.analysis import summarize

    logits = torch.randn(len(synthetic_data.test_labels), 10, generator=torch.Generator().manual_seed(0))
    evaluation = summarize(torch.softmax(logits, dim=1), synthetic_data.test_labels)
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane = pilot.app.query_one(MisclassifiedPane)
        pane.set_evaluation(evaluation, synthetic_data.test_images)
        await pilot.pause()
        shown = len(pane.examples)
        await pilot.press("l")
        await pilot.pause()
        said = str(list(pilot.app._notifications)[-1].message)
        assert pane.label_issues == {} and not pane.label_errors_only and len(pane.examples) == shown
        assert said.startswith(f"No label is flagged: the model reads only {evaluation.accuracy:.0%} of the digits"), said


async def test_the_bar_counts_no_wrong_digit_before_an_evaluation():
    """Before any evaluation the bar said "0 wrong", which read as a perfect model (walk25 F13)."""
    async with PaneApp().run_test(size=SIZE) as pilot:
        await pilot.pause()
        bar = str(pilot.app.query_one("#wrong-bar").render())
        assert "wrong" not in bar and bar.startswith("sort confidence"), bar


async def test_a_tta_runs_digit_is_explained_as_its_test_predicted_it(run_and_evaluation, synthetic_data,
                                                                     synthetic_root, tmp_path):
    """A run tested with TTA lists its digits as the shifted copies, averaged, predicted them: Why predicts them
    the same way (it predicted the digit alone, and could show maps for another class than the list's)."""
    import torch

    from mnist_tui.core.analysis import predict_probabilities
    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
    from tests.core.tiny_runs import TINY, train_tiny_run

    run = train_tiny_run(synthetic_data, tmp_path, "shifted", dataclasses.replace(TINY, tta=True, epochs=1))
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, flipped = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        pane.checkpoint = str(run / "best.pt")
        await _select(pilot, pane, flipped)
        await _press(pilot, "e")
        panel = pane.query_one(InsightPanel)
        view = panel.content
        header = panel.render_lines(panel.region.reset_offset)[0].text.rstrip()
    model = model_from_checkpoint(load_checkpoint(run / "best.pt"))[0]
    tested = predict_probabilities(model, synthetic_data.test_images[flipped:flipped + 1], tta=True)[0]
    assert isinstance(view, ExplainView) and view.tta
    assert torch.allclose(torch.tensor(view.probabilities), tested, atol=1e-6)
    assert f"→ {view.prediction} TTA · " in header and header.endswith("· e back"), header


async def test_the_bar_is_fitted_again_when_the_terminal_narrows(run_and_evaluation, synthetic_data, synthetic_root):
    """Narrowed to 60 columns, the bar kept its 80-column fit and was cut after a separator (walk36 F9)."""
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        bar = pane.query_one("#wrong-bar")
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        await pilot.pause()
        shown = bar.render_lines(bar.region.reset_offset)[0].text.rstrip()
        whole = str(bar.render())
    assert shown == whole and not shown.endswith("·") and len(shown) <= 60, (shown, whole)


async def test_a_thousand_wrong_digits_read_with_a_separator(synthetic_data):
    """A collapsed model's "8865 wrong" in Misclassified and the Map, beside Results' "8,865" (walk36 F5)."""
    import torch

    from mnist_tui.core.analysis import summarize
    from mnist_tui.tui.screens.map import MapData, MapScreen

    count = 1_200
    labels = torch.arange(count) % 10
    probabilities = torch.full((count, 10), 0.02).index_fill_(1, torch.tensor([1]), 0.82)  # every digit read "1"
    images = synthetic_data.test_images[torch.arange(count) % len(synthetic_data.test_images)]
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane = pilot.app.query_one(MisclassifiedPane)
        pane.set_evaluation(summarize(probabilities, labels), images)
        await pilot.pause()
        assert "1,080 wrong" in str(pane.query_one("#wrong-bar").render())
        pane.set_filter(3, None)
        await pilot.pause()
        assert "120 of 1,080 wrong" in str(pane.query_one("#wrong-bar").render())
        screen = MapScreen(MapData([(float(i % 40), float(i // 40)) for i in range(count)], labels.tolist(),
                                   [1] * count, images, (0.2, 0.1), "collapsed"))
        await pilot.app.push_screen(screen)
        await pilot.pause()
        assert screen.query_one("#map-title").render_line(0).text.startswith("Map of 1,200 test digits (1,080 wrong)")


async def test_a_digit_opened_from_the_map_keeps_a_filter_that_holds_it(run_and_evaluation, synthetic_data,
                                                                         synthetic_root):
    """Enter on a 7→2 from the map, opened over "true 7 · pred 2", cleared the filter (walk36 F7)."""
    from mnist_tui.tui.screens.map import MapScreen
    from mnist_tui.tui.widgets.digit_map import DigitMap

    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, run_and_evaluation, synthetic_data, synthetic_root)
        await _press(pilot, "M")
        digit_map = pilot.app.screen.query_one(DigitMap)
        wrong = {m.index: m for m in pane.examples}
        shown = []  # wrong digits that enter can reach: each one the digit its cell shows
        for index in wrong:
            digit_map.cursor = digit_map._to_cell(*digit_map.xy[index])
            if digit_map.selected == index:
                shown.append(index)
        chosen = shown[0]
        pair = (wrong[chosen].true_label, wrong[chosen].predicted_label)
        other = next(i for i in shown if (wrong[i].true_label, wrong[i].predicted_label) != pair)
        await _press(pilot, "escape")
        pane.set_filter(*pair)
        for index, kept in ((chosen, pair), (other, (None, None))):  # a digit the filter leaves out clears it
            await _press(pilot, "M")
            digit_map = pilot.app.screen.query_one(DigitMap)
            digit_map.cursor = digit_map._to_cell(*digit_map.xy[index])
            await _press(pilot, "enter")
            assert not isinstance(pilot.app.screen, MapScreen)
            assert (pane.true_label, pane.predicted_label) == kept
            assert pane.query_one(DigitGrid).current.index == index


async def test_nearest_and_the_map_of_a_collapsed_network_say_so(run_and_evaluation, synthetic_data, synthetic_root,
                                                                 tmp_path):
    """A network that gives every digit the same features ranked "nearest" digits by index at d0.0, and its map
    put every digit in one cell titled "PCA 0%+0%" (walk36 F6)."""
    import torch

    from mnist_tui.core.checkpoints import load_checkpoint
    from mnist_tui.tui.widgets.insight_panel import ALIKE

    run, evaluation, _ = run_and_evaluation
    checkpoint = load_checkpoint(run / "best.pt")
    state = checkpoint["model_state"]
    weight = next(key for key, value in state.items() if value.dim() == 2)  # the first layer's
    state[weight].zero_()
    state[weight.replace("weight", "bias")].zero_()
    (tmp_path / "collapsed").mkdir()
    torch.save(checkpoint, tmp_path / "collapsed" / "best.pt")
    async with PaneApp().run_test(size=SIZE) as pilot:
        pane, _ = await _open(pilot, (tmp_path / "collapsed", evaluation, None), synthetic_data, synthetic_root)
        await _press(pilot, "n")
        assert pane.query_one(InsightPanel).content == ALIKE
        await _press(pilot, "escape", "M")
        title = pilot.app.screen.query_one("#map-title").render_line(0).text
        assert "every digit alike to this network" in title and "PCA" not in title, title
