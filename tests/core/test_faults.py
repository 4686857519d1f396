"""The fault suite's fast part: every bad input a user or a page can send gets one clear line and exit 2.

Each group is one parametrized test, so `pytest -q tests/core/test_faults.py`
prints how many cases were tried; all of them must survive (no traceback, the
right exit code, one line naming the problem).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_tui.cli import main
from mnist_tui.core.config import TrainConfig, field_types, validate
from mnist_tui.core.names import check_run_name

REPO = Path(__file__).resolve().parents[2]
FLOAT_FIELDS = [name for name, kind in field_types().items() if kind is float]
NOT_FINITE = ["nan", "inf", "-inf", "NaN", "Infinity"]


def test_every_float_field_is_covered():
    assert len(FLOAT_FIELDS) >= 12 and {"lr", "rotate", "ema"} <= set(FLOAT_FIELDS)


@pytest.mark.parametrize("value", NOT_FINITE)
@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_cli_refuses_non_finite_float_flags(tmp_path, capsys, field, value):
    flag = "--" + field.replace("_", "-")
    code = main(["--checkpoints", str(tmp_path), "train", "--data-dir", str(tmp_path / "no-data"), "--epochs", "1",
                 f"{flag}={value}"])  # '=' so argparse takes '-inf' as the value, not as a flag
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{field} must be a finite number, got {float(value)}" in err
    assert not any(tmp_path.iterdir())  # refused before anything was made


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_validate_refuses_non_finite_values(field, value):
    errors = validate(dataclasses.replace(TrainConfig(), **{field: value}))  # built unchecked, as from a file
    assert errors == {field: f"{field} must be a finite number, got {value}"}


BAD_RUN_NAMES = ["../x", "a/b", "/tmp/abs", "with space", "x" * 300, ".", "..", ".hidden", "", "a\nb", "tab\t",
                 "é"]


@pytest.mark.parametrize("name", BAD_RUN_NAMES)
def test_bad_run_names_are_refused_before_the_data_loads(tmp_path, capsys, name):
    code = main(["train", "--data-dir", str(tmp_path / "no-data"), "--checkpoints", str(tmp_path / "runs"),
                 "--epochs", "1", "--run-name", name])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "run name" in err
    assert "train-images" not in err  # the data was never looked for
    assert not (tmp_path / "runs").exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["r1", "lenet5-2024_01", "a.b", "-x", "_", "x" * 100])
def test_ordinary_run_names_pass(name):
    assert check_run_name(name) is None


def _break_data(kind: str, root: Path) -> tuple[Path, str]:
    """Damage a copy of the synthetic data one way; return (the --data-dir to pass, what the message must say)."""
    raw = root / "MNIST" / "raw"
    images = raw / "train-images-idx3-ubyte"
    if kind == "unreadable raw folder":
        raw.chmod(0)
        return root, f"cannot look inside {raw}: permission denied"
    if kind == "unreadable file":
        images.chmod(0)
        return root, f"cannot read {images}: permission denied"
    if kind == "zero items":
        labels = raw / "train-labels-idx1-ubyte"
        images.write_bytes(struct.pack(">IIII", 0x0803, 0, 28, 28))
        labels.write_bytes(struct.pack(">II", 0x0801, 0))
        return root, f"{images} holds no digits"
    if kind == "data dir is a file":
        file = root.parent / "data.txt"
        file.write_text("not a folder")
        return file, f"{file} is not a folder"
    if kind == "fifo":
        images.unlink()
        os.mkfifo(images)
        return root, f"{images} is a FIFO (named pipe), not a regular file"
    if kind == "dangling symlink":
        images.unlink()
        images.symlink_to(root / "gone")
        return root, f"{images} is a symlink to {root / 'gone'}, which does not exist"
    if kind == "folder in place of a file":
        images.unlink()
        images.mkdir()
        return root, f"{images} is a folder, not a data file"
    raise ValueError(kind)


DATA_FAULTS = ["unreadable raw folder", "unreadable file", "zero items", "data dir is a file", "fifo",
               "dangling symlink", "folder in place of a file"]


NO_DAC = "-dac_override,-dac_read_search"  # root without these reads by the file modes like anyone else


def _cli_without_root_bypass(args: list[str]) -> tuple[int, str]:
    """Run the CLI in a process that file modes apply to: as root, drop the capabilities that bypass them."""
    command = [sys.executable, "-m", "mnist_tui.cli", *args]
    if os.geteuid() == 0:
        command = ["setpriv", f"--bounding-set={NO_DAC}", f"--inh-caps={NO_DAC}", *command]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    return done.returncode, done.stderr


@pytest.mark.parametrize("kind", DATA_FAULTS)
def test_broken_data_folders_are_named_with_what_is_wrong(tmp_path, synthetic_root, capsys, kind):
    unreadable = kind.startswith("unreadable")
    if unreadable and os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("as root, chmod 000 denies nothing unless setpriv can drop CAP_DAC_OVERRIDE")
    root = tmp_path / "data"
    shutil.copytree(synthetic_root, root)
    data_dir, expected = _break_data(kind, root)
    args = ["train", "--data-dir", str(data_dir), "--checkpoints", str(tmp_path / "runs"), "--epochs", "1"]
    try:
        if unreadable:
            code, err = _cli_without_root_bypass(args)
        else:
            code, err = main(args), capsys.readouterr().err
    finally:
        for path in (root / "MNIST" / "raw", root / "MNIST" / "raw" / "train-images-idx3-ubyte"):
            if path.exists() and not path.is_symlink():
                path.chmod(0o755)  # so pytest can remove tmp_path
    assert code == 2 and "Traceback" not in err and expected in err
    assert "--data-dir DIR" in err  # the same help as for a missing folder
