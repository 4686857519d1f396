"""The digit renderer: known 28x28 images to known text."""

from __future__ import annotations

from mnist_tui.tui.widgets.digit_art import (
    caption, digit_lines, digit_text, large_digit_lines, probability_bar,
)


def blank() -> list[list[int]]:
    return [[0] * 28 for _ in range(28)]


def test_blank_digit_is_28_columns_by_14_rows_of_spaces():
    lines = digit_lines(blank())
    assert lines == [" " * 28] * 14


def test_half_blocks_pair_two_image_rows_per_line():
    image = blank()
    image[0][0] = 255  # top half only
    image[1][1] = 255  # bottom half only
    image[2][2] = image[3][2] = 200  # both halves
    image[4][3] = 79  # below the ink threshold
    image[27][27] = 80  # exactly at the threshold, bottom half of the last line
    lines = digit_lines(image)
    assert lines[0] == "▀▄" + " " * 26
    assert lines[1] == "  █" + " " * 25
    assert lines[2] == " " * 28
    assert lines[13] == " " * 27 + "▄"


def test_vertical_bar_digit_one():
    image = blank()
    for y in range(4, 24):
        for x in (13, 14):
            image[y][x] = 255
    lines = digit_lines(image)
    bar = " " * 13 + "██" + " " * 13
    assert lines == [" " * 28] * 2 + [bar] * 10 + [" " * 28] * 2


def test_odd_height_pads_the_last_line():
    assert digit_lines([[255, 0], [0, 255], [255, 255]]) == ["▀▄", "▀▀"]


def test_styled_text_has_the_same_characters_and_a_grey_ramp():
    image = blank()
    image[0][0] = 255
    image[0][1] = 100
    text = digit_text(image)
    assert [t.plain for t in text] == digit_lines(image)
    styles = {str(span.style) for span in text[0].spans}
    assert any("#ffffff" in s for s in styles) and any("#767676" in s for s in styles)


def test_large_rendering_uses_two_columns_per_pixel_and_a_shade_ramp():
    image = blank()
    image[0][:5] = [0, 60, 120, 180, 255]
    lines = large_digit_lines(image)
    assert len(lines) == 28 and all(len(line) == 56 for line in lines)
    assert lines[0][:10] == "  ░░▒▒▓▓██"


def test_probability_bar_and_caption():
    assert probability_bar(1.0, 4) == "████"
    assert probability_bar(0.5, 4) == "██  "
    assert probability_bar(0.0, 4) == "    "
    assert probability_bar(0.53, 4) == "██▏ "
    assert caption(1234, 7, 1, 0.982) == "#1234 7→1 98%".ljust(28)


def test_a_caption_never_rounds_a_wrong_digit_up_to_certainty():
    # the tile read "9→4 100%" while its panel said "confidence 99.5%"
    assert caption(9587, 9, 4, 0.995) == "#9587 9→4 99%".ljust(28)
    assert caption(9587, 9, 4, 0.9949) == "#9587 9→4 99%".ljust(28)
    assert caption(1, 2, 3, 1.0) == "#1 2→3 100%".ljust(28)
    assert caption(1, 2, 3, 0.004) == "#1 2→3 0%".ljust(28)


async def test_the_digit_panel_never_rounds_a_wrong_digit_up_to_certainty():
    """The tile said 99% and the panel "confidence 100.0%" for the same wrong digit (p = 0.9996)."""
    from mnist_tui.core.analysis import Misclassified
    from mnist_tui.tui.widgets.digit_grid import DigitDetail
    from tests.tui.one_widget import OneWidget

    async with OneWidget(DigitDetail).run_test(size=(40, 20)) as pilot:
        detail = pilot.app.query_one(DigitDetail)
        detail.show(Misclassified(4601, 8, 4, 0.9996, [(4, 0.9996), (8, 0.0003), (9, 0.0001)]))
        await pilot.pause()
        text = detail.render().plain
        assert "confidence >99.9%" in text and "100" not in text, text
        detail.show(Misclassified(7, 1, 7, 0.61, [(7, 0.61), (1, 0.39), (2, 0.0)]))
        await pilot.pause()
        assert "confidence 61.0%" in detail.render().plain
