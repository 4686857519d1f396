"""The app's first frame must not wait for torch: importing the TUI does not import it."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_importing_the_app_does_not_import_torch():
    code = "import sys, mnist_tui.tui.app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_core_does_not_import_textual():
    code = ("import sys, mnist_tui.core.engine, mnist_tui.core.checkpoints, mnist_tui.core.analysis; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_ui_module_imports_torch_even_lazily():
    """The UI hands tensors' work to core: no module under mnist_tui/tui imports torch, in a worker or not."""
    import re
    from pathlib import Path

    tui = Path(__file__).resolve().parents[2] / "mnist_tui" / "tui"
    offenders = [str(p.relative_to(tui)) for p in tui.rglob("*.py")
                 if re.search(r"^\s*(import torch|from torch\b)", p.read_text(), re.MULTILINE)]
    assert offenders == []


@pytest.mark.parametrize("width", [80, 140])
async def test_the_first_frame_styles_the_widgets_once(make_app, width):
    """The first frame restyled every widget twice after styling them at mount: once for the width's class
    (-narrow, -wide), once because Textual refreshes a resumed screen's styles (0.4 s of a 2.5 s start here).
    The width's CSS still applies: at 130 columns and more the misclassified digit's panel is 60 wide."""
    from mnist_tui.tui.widgets.digit_grid import DigitDetail
    from tests.tui.test_app import ready

    app = make_app()
    restyled: list[int] = []
    update_nodes = app.stylesheet.update_nodes

    def counting(nodes, animate=False):
        nodes = list(nodes)
        restyled.append(len(nodes))
        return update_nodes(nodes, animate)

    app.stylesheet.update_nodes = counting
    async with app.run_test(size=(width, 24)) as pilot:
        await ready(pilot, app)
        widgets = len(app.screen.query("*"))
        wide = app.screen.has_class("-wide")
        narrow = app.screen.has_class("-narrow")
        detail_width = app.query_one(DigitDetail).styles.width
    assert (wide, narrow) == ((width >= 130), (width < 130))
    assert (str(detail_width) == "60") == (width >= 130), detail_width
    assert max(restyled) < widgets / 2, (restyled, widgets)
