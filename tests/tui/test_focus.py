"""Focus at 80x24: Tab lands on something visible, and what has focus stands out by more than a shade."""

from __future__ import annotations

from textual.color import Color
from textual.widgets import Button, DataTable, Input, Label, Select
from textual.widgets._select import SelectCurrent

from mnist_tui.tui.widgets.hparam_form import HParamForm
from tests.tui.test_app import SIZE, ready


def background(widget) -> Color:
    """The colour a widget's cells are painted with (its own background over its parents')."""
    return widget.background_colors[1]


def distance(a: Color, b: Color) -> int:
    return abs(a.r - b.r) + abs(a.g - b.g) + abs(a.b - b.b)


def visible_form_field(app, widget) -> bool:
    return (isinstance(widget, (Select, Input)) and app.query_one(HParamForm) in widget.ancestors
            and widget.is_on_screen and app.screen.find_widget(widget).region.area > 0)


async def test_launch_and_tab_after_it_and_after_the_palette_land_on_a_visible_field(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert visible_form_field(app, app.focused), app.focused  # the app opens on the form's first field
        assert app.focused.id == "preset"
        await pilot.press("tab")
        second = app.focused
        assert visible_form_field(app, second)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is second  # the palette gives the keys back where they were
        await pilot.press("tab")
        assert visible_form_field(app, app.focused) and app.focused is not second


async def test_a_focused_field_button_and_table_stand_out(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        model, optimizer = app.query_one("#field-model", Select), app.query_one("#field-optimizer", Select)
        model.focus()
        await pilot.pause()
        shown, other = model.query_one(SelectCurrent), optimizer.query_one(SelectCurrent)
        assert distance(background(shown), background(other)) >= 90  # not one shade: a colour
        label, other_label = model.parent.query_one(Label), optimizer.parent.query_one(Label)
        assert label.styles.color != other_label.styles.color and "bold" in str(label.styles.text_style)

        lr, epochs = app.query_one("#field-lr", Input), app.query_one("#field-epochs", Input)
        lr.focus()
        await pilot.pause()
        assert distance(background(lr), background(epochs)) >= 90

        start = app.query_one("#start-button", Button)
        unfocused = start.rich_style
        start.focus()
        await pilot.pause()
        assert start.rich_style != unfocused and start.rich_style.reverse

        await pilot.press("f4")
        await pilot.pause()
        table = app.query_one("#runs-table", DataTable)
        assert app.focused is table
        focused_header = table.get_component_styles("datatable--header").background
        table.blur()
        await pilot.pause()
        assert distance(table.get_component_styles("datatable--header").background, focused_header) >= 60
