"""A run, a checkpoint or a checkpoints folder the user cannot read: one line and exit 2, never a traceback.

Root reads everything, so as root the commands run with the capabilities that override file modes dropped
(util-linux's setpriv), as an ordinary user, whom a folder shared by another user would refuse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.core.test_cli import train

AS_A_USER = [] if os.geteuid() != 0 else ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                                           "--bounding-set=-dac_override,-dac_read_search"]
pytestmark = pytest.mark.skipif(bool(AS_A_USER) and shutil.which("setpriv") is None,
                                 reason="root without setpriv reads every file")


def as_a_user(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*AS_A_USER, sys.executable, "-m", "mnist_tui.cli", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def locked(tmp_path, synthetic_root):
    """A trained run copied twice: "shut", its folder unreadable; "sealed", its checkpoints unreadable."""
    assert train(tmp_path / "made", synthetic_root, "--epochs", "1", "--run-name", "run") == 0
    folder = tmp_path / "ck"
    for name in ("shut", "sealed"):
        shutil.copytree(tmp_path / "made" / "run", folder / name)
    for name in ("best.pt", "last.pt"):
        (folder / "sealed" / name).chmod(0)
    (folder / "shut").chmod(0)
    yield folder
    (folder / "shut").chmod(0o755)


def test_an_unreadable_run_folder_is_one_line_not_a_traceback(locked, synthetic_root):
    """eval, predict, export, explain and train --resume gave PermissionError tracebacks, exit 1 (walk35 F1)."""
    done = as_a_user("eval", "--data-dir", str(synthetic_root), "--checkpoints", str(locked), "shut")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [f"mnist-tui: cannot read {locked / 'shut'}/best.pt: permission denied"]


def test_an_unreadable_checkpoint_is_not_called_corrupt(locked, synthetic_root):
    """An intact file read "is not a usable checkpoint: corrupt or truncated", which invites deleting it (F2)."""
    done = as_a_user("eval", "--data-dir", str(synthetic_root), "--checkpoints", str(locked), "sealed")
    assert done.returncode == 2 and "corrupt" not in done.stderr, done.stderr
    assert "permission denied" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    listed = as_a_user("runs", "--checkpoints", str(locked))
    assert "Traceback" not in listed.stderr and "corrupt" not in listed.stdout + listed.stderr, listed
    assert "permission denied" in listed.stdout + listed.stderr


def test_an_unreadable_checkpoints_folder_is_one_line(locked):
    locked.chmod(0)
    try:
        done = as_a_user("runs", "--checkpoints", str(locked))
    finally:
        locked.chmod(0o755)
    assert done.returncode == 2 and done.stderr.strip() == f"mnist-tui: cannot read {locked}: permission denied"
