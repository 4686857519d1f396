"""`mnist-tui serve`: local-only by default, says so, and serves the page that runs the app.

The page's terminal is checked in a real browser by benchmarks/serve_check.py
(headless Chromium); here the server itself runs and its page is fetched.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mnist_tui.cli import EXIT_USAGE, build_parser, main
from mnist_tui.commands.serve import serve_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None


def test_serve_defaults_to_localhost_port_8000():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.public_url, args.max_sessions) == ("127.0.0.1", 8000, None, 4)


def test_served_command_runs_this_app_with_absolute_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["--checkpoints", "runs", "--data-dir", "data", "--preset", "fast", "serve"])
    command = serve_command(args)
    assert command.startswith(f"{sys.executable} -m mnist_tui.cli ")
    assert f"--checkpoints {tmp_path / 'runs'}" in command and f"--data-dir {tmp_path / 'data'}" in command
    assert "--preset fast" in command and not command.endswith("serve")  # each tab runs the app itself


def test_bad_port_is_a_usage_error(capsys):
    assert main(["serve", "--port", "70000"]) == EXIT_USAGE
    assert "--port" in capsys.readouterr().err


def fake_serving(monkeypatch) -> list:
    """GuardedServer that neither takes its port nor serves: the servers `serve` would have run."""
    from mnist_tui.serve_guard import GuardedServer

    made = []
    monkeypatch.setattr(GuardedServer, "bind", lambda self: made.append(("bind", self)))
    monkeypatch.setattr(GuardedServer, "serve", lambda self: made.append(("serve", self)))
    return made


def test_other_hosts_are_warned_about(monkeypatch, capsys):
    made = fake_serving(monkeypatch)  # port 8123 need not be free here
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123", "--public-url", "http://box:8123",
                 "--max-sessions", "3"]) == 0
    out = capsys.readouterr().out
    server = made[-1][1]
    prose = " ".join(out.split())
    assert "bound to 0.0.0.0 port 8123: anyone who can reach this port and has the URL below can train" in prose
    assert f"\nhttp://box:8123/?token={server.token}\n" in out and len(server.token) >= 32
    assert "ssh" not in out  # no tunnel leads to box:8123
    assert (server.host, server.port, server.title, server.max_sessions) == ("0.0.0.0", 8123, "mnist-tui", 3)
    assert server.origins == {("http", "box", 8123)}


def test_a_loopback_public_url_is_the_page_to_open_and_the_tunnel_leads_to_it(monkeypatch, capsys):
    made = fake_serving(monkeypatch)
    assert main(["serve", "--port", "8123", "--public-url", "http://localhost:9000"]) == 0
    out = capsys.readouterr().out
    server = made[-1][1]
    assert out.count("token=") == 1 and f"\nhttp://localhost:9000/?token={server.token}\n" in out
    assert "ssh -L 9000:localhost:8123 THIS_HOST, then open it there." in " ".join(out.split())


def test_a_bad_public_url_exits_2_with_one_line_before_taking_the_port(tmp_path):
    with socket.socket() as taken:  # the port is in use: were it bound first, that would be the error
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "--checkpoints", str(tmp_path), "serve",
                               "--public-url", "bogus", "--port", str(port)], capture_output=True, text=True,
                              timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == EXIT_USAGE
    assert done.stderr == ("mnist-tui: --public-url bogus: give an http:// or https:// URL with a host "
                           "(and a port 1-65535)\n")
    assert done.stdout == ""


@pytest.mark.parametrize("url, why", [
    ("ftp://x:1", "give an http:// or https:// URL"),  # the page's socket would be refused: no origin matches
    ("http://localhost:99999", "(and a port 1-65535)"),
    ("http://localhost:0", "(and a port 1-65535)"),
    ("localhost:9000", "give an http:// or https:// URL"),
    ("http://", "with a host"),
    ("http://localhost:9000/?x=1", "without a ?query"),
])
def test_public_urls_browsers_could_not_use_are_usage_errors(monkeypatch, capsys, url, why):
    made = fake_serving(monkeypatch)
    assert main(["serve", "--public-url", url]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"mnist-tui: --public-url {url}: ") and why in err and err.count("\n") == 1
    assert made == []  # nothing bound, nothing served


def test_max_sessions_must_be_positive(capsys):
    assert main(["serve", "--max-sessions", "0"]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == "mnist-tui: --max-sessions must be between 1 and 64, got 0"


def test_a_file_as_the_checkpoints_folder_is_refused_before_serving(monkeypatch, tmp_path, capsys):
    # it served, and every browser tab's app then failed on it
    made = fake_serving(monkeypatch)
    (tmp_path / "a-file").write_text("")
    assert main(["serve", "--checkpoints", str(tmp_path / "a-file")]) == EXIT_USAGE
    assert capsys.readouterr().err == f"mnist-tui: {tmp_path / 'a-file'} is a file, not a checkpoints folder\n"
    assert made == []


def test_a_port_in_use_exits_2_with_one_line_and_no_serving_banner(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "--checkpoints", str(tmp_path), "serve",
                               "--port", str(port)], capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == EXIT_USAGE
    assert done.stderr == f"mnist-tui: cannot serve on 127.0.0.1:{port}: Address already in use\n"
    assert done.stdout == ""  # no "serving on" line for a server that never served


@contextlib.contextmanager
def serving(tmp_path: Path, *args: str, columns: int = 80):
    """`mnist-tui serve ARGS` in a terminal COLUMNS wide: (process, what it printed until it listens);
    interrupted and waited for on the way out."""
    server = subprocess.Popen(
        [sys.executable, "-m", "mnist_tui.cli", "--checkpoints", str(tmp_path), "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "COLUMNS": str(columns)})
    try:
        printed = []
        for line in server.stdout:  # the server prints this last, once it listens
            printed.append(line.rstrip("\n"))
            if "Press Ctrl+C to quit" in line:
                break
        yield server, printed
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


def test_start_up_lines_fit_the_terminal_and_give_the_url_once(tmp_path):
    port = free_port()
    with serving(tmp_path, "--port", str(port), columns=80) as (_, printed):
        urls = [line for line in printed if "token=" in line]
        assert len(urls) == 1 and re.fullmatch(rf"http://127\.0\.0\.1:{port}/\?token=[\w-]+", urls[0]), printed
        assert all(len(line) <= 80 for line in printed if line != urls[0]), printed  # the URL on its own line
        assert printed[-1] == "Press Ctrl+C to quit.", printed
        assert "bound to 127.0.0.1" in printed[0] and "only this machine can connect" in " ".join(printed)
        assert f"ssh -L {port}:localhost:{port} THIS_HOST" in " ".join(printed)


def test_serve_answers_on_localhost(tmp_path):
    port = free_port()
    with serving(tmp_path, "--port", str(port)) as (server, printed):
        page_url = next(line for line in printed if line.startswith(f"http://127.0.0.1:{port}/?token="))
        token = page_url.rsplit("=", 1)[1]
        deadline = time.monotonic() + 30
        page = None
        while page is None and time.monotonic() < deadline and server.poll() is None:
            page = fetch(page_url)
        assert page is not None, "the server never answered"
        assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws/{token}"' in page
        assert "<div>mnist-tui</div>" in page  # the splash shown while the tab's app process starts
        assert fetch(f"http://127.0.0.1:{port}/") is None  # no token, no page (403)


def test_ctrl_c_ends_serve_with_130_as_its_help_says(tmp_path):
    """It exited 0: `mnist-tui --help` gives 130 for interrupted (walk21 F17)."""
    with serving(tmp_path, "--port", str(free_port())) as (server, printed):
        assert "Press Ctrl+C to quit." in printed[-1]
    assert server.returncode == 130


def test_serve_help_says_what_a_user_needs_before_exposing_it(capsys):
    """The token in the page's URL, who can do what with it off the loopback, the ranges and --preset were only in
    the banner or the errors (walk36 F12)."""
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "?token=" in text and "train, evaluate and delete runs" in text
    assert "1-65535" in text and "1-64" in text
    assert "mnist-tui --preset fast serve" in text
