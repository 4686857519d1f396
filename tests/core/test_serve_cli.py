"""`mnist-tui serve`: local-only by default, says so, and serves the page that runs the app.

The page's terminal is checked in a real browser by benchmarks/serve_check.py
(headless Chromium); here the server itself runs and its page is fetched.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


def test_other_hosts_are_warned_about(monkeypatch, capsys):
    from mnist_tui.serve_guard import GuardedServer

    made = []
    monkeypatch.setattr(GuardedServer, "bind", lambda self: None)  # port 8123 need not be free here
    monkeypatch.setattr(GuardedServer, "serve", lambda self: made.append(self))
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123", "--public-url", "http://box:8123",
                 "--max-sessions", "3"]) == 0
    out = capsys.readouterr().out
    (server,) = made
    assert "bound to 0.0.0.0: anyone who can reach port 8123 here and has this URL" in out
    assert f"serving on http://box:8123/?token={server.token}," in out and len(server.token) >= 32
    assert (server.host, server.port, server.title, server.max_sessions) == ("0.0.0.0", 8123, "mnist-tui", 3)
    assert server.origins == {("http", "box", 8123)}


def test_max_sessions_must_be_positive(capsys):
    assert main(["serve", "--max-sessions", "0"]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == "mnist-tui: --max-sessions must be between 1 and 64, got 0"


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


def test_serve_answers_on_localhost_and_says_so(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mnist_tui.cli", "--checkpoints", str(tmp_path), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        first_line = server.stdout.readline()  # printed before the server starts listening
        match = re.search(rf"serving on (http://127\.0\.0\.1:{port}/\?token=([\w-]+)), bound to 127\.0\.0\.1",
                          first_line)
        assert match, first_line
        page_url, token = match.groups()
        for line in server.stdout:  # textual-serve's banner ends with this, as its site starts
            if "Press Ctrl+C to quit" in line:
                break
        deadline = time.monotonic() + 30
        page = None
        while page is None and time.monotonic() < deadline and server.poll() is None:
            page = fetch(page_url)
        assert page is not None, "the server never answered"
        assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws/{token}"' in page
        assert "<div>mnist-tui</div>" in page  # the splash shown while the tab's app process starts
        assert fetch(f"http://127.0.0.1:{port}/") is None  # no token, no page (403)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()
