"""The app's first frame must not wait for torch: importing the TUI does not import it."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_app_does_not_import_torch():
    code = "import sys, mnist_tui.tui.app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_core_does_not_import_textual():
    code = ("import sys, mnist_tui.core.engine, mnist_tui.core.checkpoints, mnist_tui.core.analysis; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
