"""The fault suite's fast part: every bad input a user or a page can send gets one clear line and exit 2.

Each group is one parametrized test, so `pytest -q tests/core/test_faults.py`
prints how many cases were tried; all of them must survive (no traceback, the
right exit code, one line naming the problem).
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from mnist_tui.cli import main
from mnist_tui.core.config import TrainConfig, field_types, validate
from mnist_tui.core.names import check_run_name

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
