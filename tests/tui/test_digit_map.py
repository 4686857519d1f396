"""The Map's cell cursor: what it selects in a cell of several digits."""

from __future__ import annotations

from mnist_tui.tui.widgets.digit_map import DigitMap
from tests.tui.one_widget import OneWidget


async def test_a_cell_marked_x_selects_its_misclassified_digit():
    # the cell showed "x" for its wrong digit, but the cursor chose the cell's first digit, read right, so the
    # wrong digits the map marks could not be opened from it
    async with OneWidget(DigitMap).run_test(size=(40, 12)) as pilot:
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


async def test_the_ten_classes_reach_the_terminal_in_ten_colours():
    """Textual turns named ANSI colours into its theme's, where red, magenta and bright red are one colour:
    0, 4 and 7 (and 1/8, 3/9) looked alike, in truecolour and in a 256-colour tmux alike."""
    from rich.color import Color, ColorSystem

    async with OneWidget(DigitMap).run_test(size=(40, 12)) as pilot:
        digit_map = pilot.app.query_one(DigitMap)
        digit_map.set_points([(float(d), 0.0) for d in range(10)], list(range(10)), list(range(10)))
        digit_map.cursor = (-1, -1)  # no cell under the cursor
        await pilot.pause()
        rendered = digit_map.render()
        colours = {}
        for span in rendered.spans:
            text = rendered.plain[span.start:span.end]
            if text.isdigit():
                colours[int(text)] = span.style.color.get_truecolor(pilot.app.ansi_theme)
        assert sorted(colours) == list(range(10))
        assert len(set(colours.values())) == 10, colours
        in_256 = {Color.from_rgb(*rgb).downgrade(ColorSystem.EIGHT_BIT).number for rgb in colours.values()}
        assert len(in_256) == 10, colours


async def test_x_and_shift_x_visit_every_wrong_digit_even_two_in_one_cell():
    """x stepped cell by cell: of two wrong digits sharing a cell, one was never reached (walk24 5: #4201)."""
    async with OneWidget(DigitMap).run_test(size=(40, 12)) as pilot:
        digit_map = pilot.app.query_one(DigitMap)
        xy = [(0.0, 0.0), (5.0, 5.0), (5.0, 5.0), (5.0, 5.0), (10.0, 10.0)]
        labels = [3, 4, 9, 7, 5]
        predictions = [8, 4, 4, 1, 6]  # wrong: 0, 2 and 3 (sharing a cell with 1), 4
        digit_map.set_points(xy, labels, predictions)
        await pilot.pause()
        seen = {"x": [], "X": []}
        for key in seen:
            for _ in range(8):
                await pilot.press(key)
                seen[key].append(digit_map.selected)
        assert set(seen["x"]) == set(seen["X"]) == {0, 2, 3, 4}, seen
        assert len(set(seen["x"][:4])) == len(set(seen["X"][:4])) == 4, seen  # each once a round
