"""`serve`'s guard: a real server on a free loopback port, real WebSockets, real app processes.

The app each session runs is a small stand-in script (the real app costs ~600 MB
and seconds to start); it speaks textual-serve's prelude and then either quits
when asked or, the worst case, floods its stdout and ignores quit and SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from mnist_tui.serve_guard import GuardedServer, allowed_origins, clamp_size, origin_of, public_url_problem

# Quits on textual-serve's {"type": "quit"} meta packet, like a Textual app.
POLITE_APP = r"""
import json, os, sys
sys.stdout.buffer.write(b"__GANGLION__\n"); sys.stdout.buffer.flush()
stdin = sys.stdin.buffer
while True:
    kind = stdin.read(1)
    if not kind:
        break
    payload = stdin.read(int.from_bytes(stdin.read(4), "big"))
    if kind == b"M" and json.loads(payload).get("type") == "quit":
        break
"""

# Never reads stdin, ignores SIGTERM and writes frames as fast as it can (a 3000x1000 terminal's worth).
STUCK_APP = r"""
import signal, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
out = sys.stdout.buffer
out.write(b"__GANGLION__\n"); out.flush()
frame = b"x" * 3_000_000
while True:
    out.write(b"D" + len(frame).to_bytes(4, "big") + frame); out.flush()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # an unreaped child shows as a zombie: it has ended
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def started(server: GuardedServer) -> int:
    """Sessions whose app process has started."""
    return sum(service.pid is not None for service in server.sessions)


async def until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


class Running:
    """A GuardedServer listening on 127.0.0.1:<free port> inside the test's event loop."""

    def __init__(self, tmp_path: Path, script: str, max_sessions: int = 2, public_url: str | None = None) -> None:
        app_file = tmp_path / "app.py"
        app_file.write_text(script)
        self.command = shlex.join([sys.executable, str(app_file)])
        self.max_sessions = max_sessions
        self.public_url = public_url

    async def __aenter__(self) -> Running:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.server = GuardedServer(self.command, host="127.0.0.1", port=port, max_sessions=self.max_sessions,
                                    quit_grace=0.5, term_grace=0.5, public_url=self.public_url)
        self.runner = web.AppRunner(await self.server._make_app())
        await self.runner.setup()
        await web.SockSite(self.runner, sock).start()
        self.origin = f"http://127.0.0.1:{port}"
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.close()
        await self.runner.cleanup()

    def ws_url(self, token: str | None = "") -> str:
        token = self.server.token if token == "" else token
        return self.origin.replace("http", "ws") + ("/ws" if token is None else f"/ws/{token}")

    async def connect(self, origin: str | None = "", token: str | None = ""):
        headers = {} if origin is None else {"Origin": self.origin if origin == "" else origin}
        return await self.http.ws_connect(self.ws_url(token) + "?width=80&height=24", headers=headers)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_origins_are_compared_by_scheme_host_and_port():
    assert origin_of("http://127.0.0.1:8000/x?y") == ("http", "127.0.0.1", 8000)
    assert origin_of("https://box.example") == ("https", "box.example", 443)
    assert origin_of("null") is None and origin_of("http://[::1") is None
    loopback = allowed_origins("http://127.0.0.1:8000")
    assert ("http", "localhost", 8000) in loopback and ("http", "::1", 8000) in loopback
    assert ("http", "localhost", 8001) not in loopback and ("https", "localhost", 8000) not in loopback
    assert allowed_origins("https://box.example") == {("https", "box.example", 443)}
    assert clamp_size(3000, 1000) == (500, 200) and clamp_size("x", -4) == (80, 1)


def test_only_public_urls_a_browser_can_open_and_connect_back_to_are_taken():
    for url in ("http://localhost:9000", "https://box.example/app/", "http://[::1]:8000"):
        assert public_url_problem(url) is None, url
    for url in ("bogus", "ftp://x:1", "http://localhost:99999", "http://x:0", "http://", "http://a b:1",
                "http://x:1/?y=2", "http://x:1/#top"):
        assert public_url_problem(url), url
    with pytest.raises(ValueError, match="'bogus': give an http:// or https:// URL with a host"):
        GuardedServer("true", public_url="bogus")


def test_an_https_public_url_gets_a_wss_socket_under_its_path(tmp_path):
    async def check():
        async with Running(tmp_path, POLITE_APP, public_url="https://box.example/app/") as running:
            async with running.http.get(f"{running.origin}/?token={running.server.token}") as response:
                page = await response.text()
                assert response.status == 200
            assert f'data-session-websocket-url="wss://box.example/app/ws/{running.server.token}"' in page

    run(check())


def test_page_needs_the_token_and_points_its_socket_at_it(tmp_path):
    async def check():
        async with Running(tmp_path, POLITE_APP) as running:
            async with running.http.get(running.origin + "/") as response:
                assert response.status == 403 and "token" in await response.text()
            async with running.http.get(running.origin + "/?token=wrong") as response:
                assert response.status == 403
            async with running.http.get(running.server.page_url) as response:
                page = await response.text()
                assert response.status == 200 and response.headers["Referrer-Policy"] == "no-referrer"
            assert f'data-session-websocket-url="{running.ws_url()}"' in page
            assert "googleapis" not in page and "xterm.css" in page  # nothing fetched from elsewhere (walk25 F8)

    run(check())


def test_the_access_log_never_holds_the_token(tmp_path, caplog):
    """Each access-log line (`GET /?token=T`, `/ws/T`) gave whoever read the log the way in (walk25 F7)."""
    import logging

    caplog.set_level(logging.INFO, logger="aiohttp.access")

    async def check():
        async with Running(tmp_path, POLITE_APP) as running:
            running.server.initialize_logging()
            async with running.http.get(running.server.page_url) as response:
                assert response.status == 200
            return running.server.token

    access = logging.getLogger("aiohttp.access")
    try:
        token = run(check())
    finally:
        for redactor in access.filters[:]:
            access.removeFilter(redactor)
    lines = [record.getMessage() for record in caplog.records if record.name == "aiohttp.access"]
    assert any("GET /?token=[token] " in line for line in lines), lines
    assert not any(token in line for line in lines), lines


@pytest.mark.parametrize("origin, token", [
    ("https://evil.example", ""),  # a page elsewhere, even with the token
    ("http://127.0.0.1:1", ""),  # another port on this machine is another origin
    (None, ""),  # no Origin: not the page served here
    ("", None),  # the page's origin without the token
    ("", "not-the-token"),
])
def test_foreign_origins_and_missing_tokens_are_refused(tmp_path, origin, token):
    async def check():
        async with Running(tmp_path, POLITE_APP) as running:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await running.connect(origin, token)
            assert refused.value.status == 403
            assert not running.server.sessions  # no app process was started

    run(check())


def test_own_origin_with_token_is_served_and_the_app_ends_with_its_socket(tmp_path):
    async def check():
        async with Running(tmp_path, POLITE_APP) as running:
            for origin in ("", running.origin.replace("127.0.0.1", "localhost")):
                ws = await running.connect(origin)
                await until(lambda: started(running.server) == 1, 10, "the session to start")
                pid = next(iter(running.server.sessions)).pid
                assert alive(pid)
                await ws.close()
                await until(lambda: not running.server.sessions and not alive(pid), 10, "the app to end")

    run(check())


def test_sessions_are_capped_and_a_closed_one_frees_its_place(tmp_path):
    async def check():
        async with Running(tmp_path, POLITE_APP, max_sessions=2) as running:
            first, second = await running.connect(), await running.connect()
            await until(lambda: started(running.server) == 2, 10, "two sessions")
            third = await running.connect()
            message = await third.receive()
            assert message.type == aiohttp.WSMsgType.BINARY and b"All 2 sessions are in use" in message.data
            assert (await third.receive()).type == aiohttp.WSMsgType.CLOSE
            assert third.close_code == 1013 and len(running.server.sessions) == 2
            async with running.http.get(running.server.page_url) as response:
                assert response.status == 503 and "All 2 sessions are in use" in await response.text()
            await first.close()
            await until(lambda: len(running.server.sessions) == 1, 10, "the first session to end")
            fourth = await running.connect()
            await until(lambda: len(running.server.sessions) == 2, 10, "a session in the freed place")
            for ws in (second, fourth):
                await ws.close()
            await until(lambda: not running.server.sessions, 10, "every session to end")

    run(check())


def test_an_app_that_floods_its_pipe_and_ignores_quit_and_sigterm_is_killed(tmp_path):
    async def check():
        async with Running(tmp_path, STUCK_APP) as running:
            ws = await running.connect()
            await ws.receive()  # it is writing
            await until(lambda: started(running.server) == 1, 10, "the session to start")
            pids = [service.pid for service in running.server.sessions]
            await ws.close()
            await until(lambda: not running.server.sessions and not any(map(alive, pids)), 15,
                        "the stuck app to be killed")

    run(check())


def test_a_one_session_server_says_its_one_session_is_taken():
    """With --max-sessions 1 the next tab read "All 1 session is in use" (walk25 F14)."""
    assert GuardedServer("true", host="127.0.0.1", port=8765, max_sessions=1)._full_text().startswith(
        "The one session is in use (each browser tab runs its own app).")
