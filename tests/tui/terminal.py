"""What a real terminal would show of an app run by Pilot.

Pilot runs the app headless: its screen updates are built but never written anywhere, and a
screenshot renders the whole screen afresh, so a region the app forgot to redraw cannot show in
either. ``TerminalMirror`` applies each update the app would have written (the escape sequences
of Textual's ``CompositorUpdate``) to a grid of cells, as a terminal does, so a test can read
what a person would be left looking at.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from textual._compositor import CompositorUpdate

# cursor position, other CSI sequences (colours, modes), and OSC sequences (links), in that order
_SEQUENCE = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[[0-9;?<=>]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


class TerminalMirror:
    def __init__(self, app, size: tuple[int, int]) -> None:
        width, height = size
        self.cells = [[" "] * width for _ in range(height)]
        self.frames: list[str] = []  # the whole terminal after each update
        original = app._display

        def display(screen, renderable) -> None:
            if isinstance(renderable, CompositorUpdate) and not app._batch_count:
                self.write(renderable.render_segments(app.console))
                self.frames.append(self.text())
            original(screen, renderable)

        app._display = display

    def write(self, data: str) -> None:
        x = y = left = 0
        position = 0
        for match in _SEQUENCE.finditer(data):
            x, y = self._text(data[position:match.start()], x, y, left)
            if match.group(1):  # ESC [ row ; column H, 1-based
                y, x = int(match.group(1)) - 1, int(match.group(2)) - 1
                left = x
            position = match.end()
        self._text(data[position:], x, y, left)

    def _text(self, text: str, x: int, y: int, left: int) -> tuple[int, int]:
        for char in text:
            if char == "\n":  # a full-layout update: the next line starts under the first
                x, y = left, y + 1
                continue
            if 0 <= y < len(self.cells) and 0 <= x < len(self.cells[y]):
                self.cells[y][x] = char
            x += max(cell_len(char), 1)
        return x, y

    def lines(self) -> list[str]:
        return ["".join(row) for row in self.cells]

    def text(self) -> str:
        return "\n".join(self.lines())
