"""The fault suite's fast part: every bad input a user or a page can send gets one clear line and exit 2.

Each group is one parametrized test, so `pytest -q tests/core/test_faults.py`
prints how many cases were tried; all of them must survive (no traceback, the
right exit code, one line naming the problem).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from PIL import Image

from mnist_tui.cli import main
from mnist_tui.core.config import TrainConfig, field_label, field_types, validate
from mnist_tui.core.names import check_run_name
from mnist_tui.core.preprocess import load_image, prepare_digit

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
    label, _, note = field_label(field).partition(" (")  # "β2 (adam)" reads "β2 (--beta2, adam)"
    assert f"{label} ({flag}{', ' + note[:-1] if note else ''}) must be a finite number, got {float(value)}" in err
    assert not any(tmp_path.iterdir())  # refused before anything was made


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_validate_refuses_non_finite_values(field, value):
    errors = validate(dataclasses.replace(TrainConfig(), **{field: value}))  # built unchecked, as from a file
    assert errors == {field: f"{field_label(field)} must be a finite number, got {value}"}


BAD_RUN_NAMES = ["../x", "a/b", "/tmp/abs", "with space", "x" * 300, ".", "..", ".hidden", "", "a\nb", "tab\t",
                 "é", "-dash"]  # -dash: no command could name it (eval -dash reads a flag)


@pytest.mark.parametrize("name", BAD_RUN_NAMES)
def test_bad_run_names_are_refused_before_the_data_loads(tmp_path, capsys, name):
    try:
        code = main(["train", "--data-dir", str(tmp_path / "no-data"), "--checkpoints", str(tmp_path / "runs"),
                     "--epochs", "1", f"--run-name={name}"])
    except SystemExit as refused:  # "" is refused by the parser, as any flag's empty value: "--run-name must not..."
        code = refused.code
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and ("run name" in err or "--run-name" in err)
    assert "train-images" not in err  # the data was never looked for
    assert not (tmp_path / "runs").exists() and not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["r1", "lenet5-2024_01", "a.b", "x-", "_", "x" * 100])
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


# --- predict: the bad-image corpus -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, synthetic_root) -> Path:
    """A one-epoch MLP run on the synthetic digits: enough to predict with."""
    checkpoints = tmp_path_factory.mktemp("runs")
    assert main(["train", "--data-dir", str(synthetic_root), "--checkpoints", str(checkpoints), "--model", "mlp",
                 "--hidden", "16", "--epochs", "1", "--val-size", "100", "--threads", "1", "--json",
                 "--run-name", "tiny"]) == 0
    return checkpoints / "tiny"


def _seven(side: int, dark_on_light: bool = True, dtype=np.uint8) -> np.ndarray:
    """A thick 7 drawn on a ``side`` x ``side`` canvas, in the full range of ``dtype``."""
    top = np.iinfo(dtype).max
    pixels = np.zeros((side, side), dtype=dtype)
    a, b, t = side // 4, 3 * side // 4, max(1, side // 12)
    pixels[a:a + t, a:b] = top
    for i in range(b - a):
        pixels[a + i, max(b - i // 2 - t, 0):b - i // 2] = top
    return top - pixels if dark_on_light else pixels


def _png_header(path: Path, width: int, height: int) -> None:
    """A small PNG file that claims a huge size (its pixel data is cut short): PIL reads the size first."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 8)  # a few rows
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _make(kind: str, folder: Path) -> Path:
    if kind == "white":
        Image.new("L", (64, 64), 255).save(path := folder / "white.png")
    elif kind == "black":
        Image.new("L", (64, 64), 0).save(path := folder / "black.png")
    elif kind == "grey":
        Image.new("RGB", (40, 30), (128, 128, 128)).save(path := folder / "grey.png")
    elif kind == "1x1":
        Image.new("L", (1, 1), 0).save(path := folder / "dot.png")
    elif kind == "transparent":
        Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(path := folder / "clear.png")
    elif kind == "faint noise":  # a blank page through a JPEG encoder: a few levels of noise, no stroke
        noise = np.random.default_rng(0).integers(250, 256, size=(64, 64), dtype=np.uint8)
        Image.fromarray(noise).save(path := folder / "noise.jpg", quality=90)
    elif kind == "16-bit blank":
        Image.fromarray(np.full((64, 64), 40000, dtype=np.uint16)).save(path := folder / "blank16.png")
    elif kind == "huge png":
        _png_header(path := folder / "huge.png", 13300, 13300)  # under PIL's bomb error, over its warning
    elif kind == "bomb png":
        _png_header(path := folder / "bomb.png", 40000, 40000)
    elif kind == "bomb jpeg":  # a small JPEG whose frame header claims 14000x14000 (196 megapixels)
        Image.fromarray(_seven(64)).save(path := folder / "bomb.jpg")
        data = bytearray(path.read_bytes())
        frame = data.index(b"\xff\xc0") + 5  # SOF0: marker, length (2), precision (1), then height, width
        data[frame:frame + 4] = struct.pack(">HH", 14000, 14000)
        path.write_bytes(bytes(data))
    elif kind == "truncated png":
        Image.fromarray(_seven(64)).save(path := folder / "cut.png")
        path.write_bytes(path.read_bytes()[:60])
    elif kind == "text":
        (path := folder / "notes.png").write_text("not a picture")
    elif kind == "empty":
        (path := folder / "empty.png").write_bytes(b"")
    elif kind == "missing":
        path = folder / "missing.png"
    elif kind == "folder":
        (path := folder / "folder.png").mkdir()
    elif kind == "proc file":  # its size reads 0, yet it holds text: not "an empty file" (walk39 F10)
        path = Path("/proc/self/status")
    else:
        raise ValueError(kind)
    return path


NO_DIGIT = ["white", "black", "grey", "1x1", "transparent", "faint noise", "16-bit blank"]
UNREADABLE = {"huge png": "is 13300x13300 pixels; predict reads pictures up to 40 megapixels",
              "bomb png": "is too large to decode safely; predict reads pictures up to 40 megapixels",
              "bomb jpeg": "is too large to decode safely; predict reads pictures up to 40 megapixels (JPEGs up "
                           "to 178)",
              "truncated png": "is not a readable image", "text": "is not a readable image",
              "missing": "no such file", "folder": "is a folder, not an image",
              "empty": "is an empty file, not an image", "proc file": "is not a readable image"}


@pytest.mark.parametrize("kind", NO_DIGIT + list(UNREADABLE))
def test_bad_images_get_a_line_each_and_the_good_one_is_still_predicted(tmp_path, tiny_run, capsys, kind):
    good = tmp_path / "seven.png"
    Image.fromarray(_seven(64)).save(good)
    bad = _make(kind, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["predict", str(tiny_run), str(bad), str(good), "--json"])
    out, err = capsys.readouterr()
    expected = f"no digit found in {bad}" if kind in NO_DIGIT else UNREADABLE[kind]
    assert code == 2 and err.count("\n") == 1 and expected in err and str(bad) in err and "Traceback" not in err
    lines = [json.loads(line) for line in out.splitlines()]  # a line each, in order: the bad one says why
    assert [line["image"] for line in lines] == [str(bad), str(good)] and "predicted" in lines[1]
    assert lines[0]["error"] == err.strip().removeprefix("mnist-tui: ")
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


@pytest.mark.parametrize("command", ["predict", "explain"])
def test_a_named_pipe_is_refused_not_waited_on(command, tmp_path, tiny_run):
    """`predict RUN fifo.png` blocked with no output until killed, waiting for a writer (walk39 F8)."""
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", command, str(tiny_run), str(fifo)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr == f"mnist-tui: {fifo} is a FIFO (named pipe), not an image\n"


def test_an_empty_image_path_is_named_as_such(tiny_run, capsys):
    """`predict RUN ""` said "mnist-tui: : no such file"."""
    code = main(["predict", str(tiny_run), ""])
    assert (code, capsys.readouterr().err) == (2, "mnist-tui: an empty path names no picture\n")


def test_sixteen_bit_pictures_keep_their_polarity():
    eight, sixteen = _seven(96), _seven(96, dtype=np.uint16)
    for dark_on_light in (True, False):
        a = prepare_digit(Image.fromarray(_seven(96, dark_on_light)), require_ink=True)
        b = prepare_digit(Image.fromarray(_seven(96, dark_on_light, np.uint16)), require_ink=True)
        assert a[0].sum() == 0 and b[0].sum() == 0  # the background became black
        assert (a.int() - b.int()).abs().max() <= 2  # the same digit either way
    assert eight.dtype == np.uint8 and sixteen.dtype == np.uint16


def test_predict_help_gives_the_limits_load_image_keeps(capsys):
    from mnist_tui.core.preprocess import MAX_JPEG_PIXELS, MAX_PIXELS

    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # one model, then images (argparse's own usage repeated the model: "[[MODEL] IMAGE ...]")
    assert text.startswith("usage: mnist-tui predict [-h] [--checkpoints CHECKPOINTS] [--json] [MODEL] IMAGE "
                           "[IMAGE ...] Classify")
    assert f"up to {MAX_PIXELS // 1_000_000} megapixels (JPEGs" in text
    assert f"up to {MAX_JPEG_PIXELS // 1_000_000} megapixels)" in text


def test_a_huge_jpeg_is_decoded_downscaled(tmp_path):
    path = tmp_path / "big.jpg"
    Image.fromarray(_seven(7000)).save(path, quality=80)  # 49 megapixels: over the limit for other formats
    image = load_image(path)
    assert max(image.size) <= 1024
    digit = prepare_digit(image, require_ink=True)
    small = prepare_digit(Image.fromarray(_seven(700)), require_ink=True)
    assert (digit.float() - small.float()).abs().mean() < 8  # the same 7


# --- serve: foreign pages and too many tabs ----------------------------------------------------------------

FOREIGN_ORIGINS = ["https://evil.example", "http://evil.example", "null", "file://", "http://127.0.0.1:1",
                   "https://127.0.0.1:{port}", "http://127.0.0.1.evil.example:{port}", "http://localhost.:{port}x",
                   "http://10.0.0.1:{port}", "chrome-extension://abcdef", None]
BAD_TOKENS = [None, "x", "{token}x", "{token_prefix}", "{token_upper}"]


def test_serve_refuses_foreign_origins_and_bad_tokens_and_caps_sessions(tmp_path):
    from tests.core.test_serve_guard import POLITE_APP, Running, started, until

    async def check() -> int:
        tried = 0
        async with Running(tmp_path, POLITE_APP, max_sessions=2) as running:
            port, token = running.server.port, running.server.token
            fill = dict(port=port, token=token, token_prefix=token[:-1], token_upper=token.upper())
            cases = [(o.format(**fill) if o else o, "") for o in FOREIGN_ORIGINS]
            cases += [("", t.format(**fill) if t else t) for t in BAD_TOKENS]
            for origin, given in cases:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await running.connect(origin, given)
                assert refused.value.status == 403, (origin, given)
                tried += 1
            assert not running.server.sessions
            sockets = [await running.connect() for _ in range(2)]
            await until(lambda: started(running.server) == 2, 10, "two sessions")
            for _ in range(3):  # more tabs than the cap: each told so and closed, no process started
                extra = await running.connect()
                assert b"sessions are in use" in (await extra.receive()).data
                assert (await extra.receive()).type == aiohttp.WSMsgType.CLOSE and extra.close_code == 1013
                tried += 1
            assert len(running.server.sessions) == 2
            for ws in sockets:
                await ws.close()
            await until(lambda: not running.server.sessions, 10, "the sessions to end")
        return tried

    assert asyncio.run(asyncio.wait_for(check(), 60)) == len(FOREIGN_ORIGINS) + len(BAD_TOKENS) + 3


@pytest.mark.parametrize("ink", [0, 255])
def test_a_digit_on_a_transparent_picture_is_read_whatever_its_colour(tmp_path, ink):
    """A white 7 on a transparent PNG was flattened onto white: "no digit found" (walk38 F12); a black one read."""
    import torch

    from mnist_tui.core.preprocess import load_image, prepare_digit

    shape = _seven(64, dark_on_light=False) > 0
    rgba = np.zeros((64, 64, 4), dtype=np.uint8)
    rgba[shape] = (ink, ink, ink, 255)  # the 7 opaque, in black or white; all else transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "seven.png")
    Image.fromarray(_seven(64)).save(tmp_path / "plain.png")  # the same 7, dark on an opaque white page
    digit = prepare_digit(load_image(tmp_path / "seven.png"), require_ink=True)
    plain = prepare_digit(load_image(tmp_path / "plain.png"), require_ink=True)
    assert torch.equal(digit, plain)
