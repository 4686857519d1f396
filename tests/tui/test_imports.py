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


def test_no_ui_module_imports_torch_even_lazily():
    """The UI hands tensors' work to core: no module under mnist_tui/tui imports torch, in a worker or not."""
    import re
    from pathlib import Path

    tui = Path(__file__).resolve().parents[2] / "mnist_tui" / "tui"
    offenders = [str(p.relative_to(tui)) for p in tui.rglob("*.py")
                 if re.search(r"^\s*(import torch|from torch\b)", p.read_text(), re.MULTILINE)]
    assert offenders == []
