"""A 28x28 drawing canvas in 28 columns by 14 rows of half blocks.

Draw with the mouse (left button paints, right button erases; a terminal that
reports pixel positions gets the exact half cell), or with the keyboard: arrows
move a cursor, shift+arrows paint as they move, space paints, backspace erases,
``[``/``]`` change the brush, ``c`` clears. Every change posts :class:`Canvas.Changed`.
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from .digit_art import BACKGROUND, GREYS, THRESHOLD, digit_text

SIDE = 28
INK = 255
# brush size -> radius in pixels, measured between pixel centres
BRUSH_RADII = {1: 0.5, 2: 1.2, 3: 1.6, 4: 2.1, 5: 2.6}
CURSOR_COLOUR = "#ffaf00"  # amber: reads on black and on white ink, in 256 and 16 colours
BRUSH_COLOUR = "#875f00"  # the brush around the cursor: dim amber, unlike any grey of the ink


class Canvas(Widget, can_focus=True):
    """A 28x28 grayscale drawing (uint8 numpy array, light ink on black, as MNIST)."""

    DEFAULT_CSS = """
    Canvas {
        width: 30; height: 16;
        border: round $foreground 40%;
        background: #000000;
    }
    Canvas:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        # described for the keys panel (?), which listed them bare
        Binding("shift+up", "move(0, -1, True)", "Paint up", show=False),
        Binding("shift+down", "move(0, 1, True)", "Paint down", show=False),
        Binding("shift+left", "move(-1, 0, True)", "Paint left", show=False),
        Binding("shift+right", "move(1, 0, True)", "Paint right", show=False),
        # the Draw view explains these in its help text; the footer keeps room for its own keys
        Binding("space", "paint", "Paint", show=False),
        Binding("backspace", "erase", "Erase", show=False),
        Binding("left_square_bracket", "brush(-1)", "Brush-", key_display="[", show=False),
        Binding("right_square_bracket", "brush(1)", "Brush+", key_display="]", show=False),
        Binding("c,delete", "clear", "Clear", show=False),
    ]

    ALLOW_SELECT = False  # a drag draws; without this Textual would also select the canvas's text
    brush = reactive(2)
    cursor = reactive((SIDE // 2, SIDE // 2))

    class Changed(Message):
        """The drawing changed; ``pixels`` is a copy (uint8 [28, 28])."""

        def __init__(self, canvas: Canvas, pixels: np.ndarray) -> None:
            super().__init__()
            self.canvas = canvas
            self.pixels = pixels

        @property
        def control(self) -> Canvas:
            return self.canvas

        def can_replace(self, message: Message) -> bool:
            # while a drag outruns the UI only the newest drawing matters
            return isinstance(message, Canvas.Changed) and message.canvas is self.canvas

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.pixels = np.zeros((SIDE, SIDE), dtype=np.uint8)
        self._stroke_value: int | None = None  # INK or 0 while a mouse button is held
        self._last_point: tuple[float, float] | None = None

    # -- the drawing --------------------------------------------------------------------------

    @property
    def is_blank(self) -> bool:
        return not self.pixels.any()

    def set_pixels(self, pixels: np.ndarray) -> None:
        """Replace the drawing (used to load a picture, and by tests)."""
        pixels = np.asarray(pixels, dtype=np.uint8)
        if pixels.shape != (SIDE, SIDE):
            raise ValueError(f"expected a {SIDE}x{SIDE} image, got {pixels.shape}")
        self.pixels = pixels.copy()
        self._changed()

    def clear(self) -> None:
        self.pixels[:] = 0
        self._changed()

    def stamp(self, cx: float, cy: float, value: int = INK) -> bool:
        """Paint (or erase with 0) a brush disc centred at pixel coordinates (cx, cy).

        Pixel (x, y) has its centre at (x + 0.5, y + 0.5). Returns whether anything changed.
        """
        changed = False
        for x, y in self.footprint(cx, cy):
            if self.pixels[y, x] != value:
                self.pixels[y, x] = value
                changed = True
        return changed

    def footprint(self, cx: float, cy: float) -> list[tuple[int, int]]:
        """The pixels (x, y) the brush covers centred at (cx, cy)."""
        radius = BRUSH_RADII[self.brush]
        reach = math.ceil(radius) + 1
        return [(x, y) for y in range(max(0, int(cy) - reach), min(SIDE, int(cy) + reach + 1))
                for x in range(max(0, int(cx) - reach), min(SIDE, int(cx) + reach + 1))
                if (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= radius**2 + 1e-9]

    def stroke(self, start: tuple[float, float], end: tuple[float, float], value: int = INK) -> bool:
        """Stamp along a straight line, so a fast drag leaves no gaps."""
        (x0, y0), (x1, y1) = start, end
        steps = max(1, math.ceil(max(abs(x1 - x0), abs(y1 - y0)) * 2))
        changed = False
        for i in range(steps + 1):
            t = i / steps
            changed |= self.stamp(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, value)
        return changed

    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.Changed(self, self.pixels.copy()))

    # -- keyboard -----------------------------------------------------------------------------

    def _at_cursor(self, value: int) -> None:
        x, y = self.cursor
        if self.stamp(x + 0.5, y + 0.5, value):
            self._changed()

    def action_move(self, dx: int, dy: int, paint: bool = False) -> None:
        x, y = self.cursor
        self.cursor = (min(SIDE - 1, max(0, x + dx)), min(SIDE - 1, max(0, y + dy)))
        if paint:
            self._at_cursor(INK)

    def action_paint(self) -> None:
        self._at_cursor(INK)

    def action_erase(self) -> None:
        self._at_cursor(0)

    def action_brush(self, step: int) -> None:
        self.brush = min(max(BRUSH_RADII), max(min(BRUSH_RADII), self.brush + step))

    def action_clear(self) -> None:
        self.clear()

    def watch_cursor(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()  # the cursor shows only while focused

    def on_blur(self) -> None:
        self.refresh()

    # -- mouse --------------------------------------------------------------------------------

    def _pixel_point(self, event: events.MouseEvent) -> tuple[float, float]:
        """The pointer in pixel coordinates (fractional): two pixel rows per cell row."""
        left, top = self.gutter.top_left
        x = event.pointer_x - left
        y = event.pointer_y - top
        if y == int(y):  # cell resolution only: aim between the cell's two pixels
            return int(x) + 0.5, 2 * int(y) + 1.0
        return x, 2 * y

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button not in (1, 3):
            return
        event.stop()
        self.focus()
        self.capture_mouse()
        self._stroke_value = INK if event.button == 1 else 0
        point = self._pixel_point(event)
        self._last_point = point
        self.cursor = (min(SIDE - 1, max(0, int(point[0]))), min(SIDE - 1, max(0, int(point[1]))))
        if self.stamp(*point, self._stroke_value):
            self._changed()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._stroke_value is None:
            return
        point = self._pixel_point(event)
        if self.stroke(self._last_point or point, point, self._stroke_value):
            self._changed()
        self._last_point = point

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._stroke_value is None:
            return
        self._stroke_value = None
        self._last_point = None
        self.release_mouse()

    # -- rendering ----------------------------------------------------------------------------

    def render_lines_text(self) -> list[Text]:
        """The drawing as 14 lines of half blocks; while focused, what space would paint is marked: the
        cursor's pixel in amber, the rest of the brush in dim amber."""
        lines = digit_text(self.pixels)
        if not self.has_focus:
            return lines
        x, y = self.cursor
        brush = set(self.footprint(x + 0.5, y + 0.5))

        def colour(px: int, py: int) -> str:
            if (px, py) in brush:
                return CURSOR_COLOUR if (px, py) == (x, y) else BRUSH_COLOUR
            return GREYS[-1] if py < SIDE and self.pixels[py, px] >= THRESHOLD else "#000000"

        for row in sorted({py // 2 for _, py in brush}):
            parts, start = [], 0
            for px in sorted({px for px, py in brush if py // 2 == row}):
                cell = Text("▀", Style(color=colour(px, row * 2), bgcolor=colour(px, row * 2 + 1)))
                parts += [lines[row][start:px], cell]
                start = px + 1
            lines[row] = Text.assemble(*parts, lines[row][start:])
        return lines

    def render(self) -> Text:
        return Text("\n", style=BACKGROUND).join(self.render_lines_text())


__all__ = ["BRUSH_RADII", "Canvas", "INK", "SIDE"]
