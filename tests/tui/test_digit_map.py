"""The Map's cell cursor: what it selects in a cell of several digits."""

from __future__ import annotations

from textual.app import App, ComposeResult

from mnist_tui.tui.widgets.digit_map import DigitMap


class MapApp(App):
    def compose(self) -> ComposeResult:
        yield DigitMap(id="map")


async def test_a_cell_marked_x_selects_its_misclassified_digit():
    # the cell showed "x" for its wrong digit, but the cursor chose the cell's first digit, read right, so the
    # wrong digits the map marks could not be opened from it
    async with MapApp().run_test(size=(40, 12)) as pilot:
        digit_map = pilot.app.query_one(DigitMap)
        xy = [(0.0, 0.0), (10.0, 10.0), (5.0, 5.0), (5.0, 5.0), (5.0, 5.0)]
        labels = [1, 2, 4, 4, 9]
        predictions = [1, 2, 4, 4, 4]  # digit 4 of the shared cell is a 9 read as a 4
        digit_map.set_points(xy, labels, predictions)
        digit_map.cursor = digit_map._to_cell(5.0, 5.0)
        await pilot.pause()
        assert digit_map.selected == 4
        assert "x" in str(digit_map.render())
        digit_map.cursor = digit_map._to_cell(0.0, 0.0)
        await pilot.pause()
        assert digit_map.selected == 0  # a cell of right digits: its first
